import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Catalog, templateMatches, validItems } from '../../src/gateway/catalog.js';
import { EXPOSED_NAME, exposedName } from '../../src/gateway/naming.js';

test('a lone upstream keeps its names; several are prefixed with the separator', () => {
  assert.equal(exposedName('files', 'read_file', false, '__'), 'read_file');
  assert.equal(exposedName('files', 'read_file', true, '__'), 'files__read_file');
  assert.equal(exposedName('files', 'read_file', true, '-x-'), 'files-x-read_file');
});

test('names longer than 64 or with unsafe characters are shortened deterministically and stay unique', () => {
  const server = 's'.repeat(40);
  const a = exposedName(server, 'a_very_long_tool_name_that_goes_past_the_limit_one', true, '__');
  const b = exposedName(server, 'a_very_long_tool_name_that_goes_past_the_limit_two', true, '__');
  assert.match(a, EXPOSED_NAME);
  assert.match(b, EXPOSED_NAME);
  assert.ok(a.length <= 64 && b.length <= 64);
  assert.notEqual(a, b, 'two long names sharing a prefix must not collide');
  assert.equal(a, exposedName(server, 'a_very_long_tool_name_that_goes_past_the_limit_one', true, '__'), 'deterministic');
  // "get.user" and "get_user" would both sanitise to get_user: the hash keeps them apart.
  const dotted = exposedName('x', 'get.user', false, '__');
  assert.match(dotted, EXPOSED_NAME);
  assert.notEqual(dotted, 'get_user');
  assert.match(exposedName('x', 'naïve tool', false, '__'), EXPOSED_NAME);
});

test('templates match as RFC 6570 level-1 path segments, and reserved expansion matches across slashes', () => {
  assert.ok(templateMatches('test://template/{id}/data', 'test://template/123/data'));
  assert.ok(!templateMatches('test://template/{id}/data', 'test://template/1/2/data'));
  assert.ok(templateMatches('file:///{+path}', 'file:///a/b/c.txt'));
  assert.ok(!templateMatches('test://static', 'test://static-x'));
  assert.ok(templateMatches('a://b{?q}', 'a://b?q=1'), 'query expansion');
  assert.ok(!templateMatches('a.b://{x}', 'aXb://y'), 'literal dots are not wildcards');
});

test('the catalog drops malformed items, prefixes with several upstreams, and lets the first of two equal names win', () => {
  assert.deepEqual(validItems('tools', [{ name: 'ok', inputSchema: {} }, { name: 'no-schema' }, 'junk', null, { name: '', inputSchema: {} }]).map((t) => t.name), ['ok']);
  assert.deepEqual(validItems('tools', { not: 'an array' }), []);
  const c = new Catalog({ separator: '__', prefix: 'never', upstreamCount: 2 });
  c.set('a', 'tools', [{ name: 'read', inputSchema: {}, description: 'from a' }]);
  c.set('b', 'tools', [{ name: 'read', inputSchema: {}, description: 'from b' }, { name: 'only_b', inputSchema: {} }]);
  const entries = c.entries('tools', ['a', 'b']);
  assert.deepEqual(entries.map((e) => [e.upstream, e.item.name]), [['a', 'read'], ['b', 'only_b']]);
  assert.equal(c.resolveName('tools', 'only_b', ['a', 'b'])?.upstream, 'b');
  const p = new Catalog({ separator: '__', prefix: 'auto', upstreamCount: 2 });
  p.set('a', 'tools', [{ name: 'read', inputSchema: {}, extra: { kept: true } }]);
  const [e] = p.entries('tools', ['a']);
  assert.equal(e?.item.name, 'a__read');
  assert.deepEqual(e?.item.extra, { kept: true }, 'fields the gateway does not know pass through');
  assert.equal(e?.original, 'read');
  p.invalidate('a', 'tools');
  assert.equal(p.has('a', 'tools'), false);
});

test('resource URIs are routed by listing first, then by template', () => {
  const c = new Catalog({ separator: '__', prefix: 'auto', upstreamCount: 2 });
  c.set('a', 'resources', [{ uri: 'test://one', name: 'one' }]);
  c.set('b', 'resourceTemplates', [{ uriTemplate: 'test://item/{id}', name: 'item' }]);
  assert.equal(c.resolveUri('test://one', ['a', 'b']), 'a');
  assert.equal(c.resolveUri('test://item/7', ['a', 'b']), 'b');
  assert.equal(c.resolveUri('test://nothing', ['a', 'b']), undefined);
});
