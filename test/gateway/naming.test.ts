import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Catalog, collisionError, templateMatches, validItems, type Collision } from '../../src/gateway/catalog.js';
import { validateConfig } from '../../src/config/index.js';
import { WardenError } from '../../src/protocol/errors.js';
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

test('the catalog drops malformed items, prefixes with several upstreams, and withholds both of two equal names', () => {
  assert.deepEqual(validItems('tools', [{ name: 'ok', inputSchema: {} }, { name: 'no-schema' }, 'junk', null, { name: '', inputSchema: {} }]).map((t) => t.name), ['ok']);
  assert.deepEqual(validItems('tools', { not: 'an array' }), []);
  const heard: Collision[] = [];
  const c = new Catalog({ separator: '__', prefix: 'never', upstreamCount: 2 }, (x) => heard.push(x));
  c.set('a', 'tools', [{ name: 'read', inputSchema: {}, description: 'from a' }]);
  c.set('b', 'tools', [{ name: 'read', inputSchema: {}, description: 'from b' }, { name: 'only_b', inputSchema: {} }]);
  const entries = c.entries('tools', ['a', 'b']);
  assert.deepEqual(entries.map((e) => [e.upstream, e.item.name]), [['b', 'only_b']], 'neither "read" is routed: no first-wins');
  assert.equal(c.resolveName('tools', 'read', ['a', 'b']), undefined);
  assert.deepEqual(c.collision('tools', 'read', ['a', 'b']), { kind: 'tools', key: 'read', upstreams: ['a', 'b'] });
  assert.deepEqual(heard, [{ kind: 'tools', key: 'read', upstreams: ['a', 'b'] }], 'the collision is reported, naming both');
  assert.match(collisionError(heard[0]!).message, /"a" and "b"/);
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

test('prefixed names that collide across servers, or one upstream listing a name twice, are withheld', () => {
  // Servers a and a_ cannot both be configured (the config refuses them); a name that still collides, for
  // example after unsafe characters are replaced, is withheld from both, never routed to the first.
  const c = new Catalog({ separator: '__', prefix: 'always', upstreamCount: 2 });
  c.set('a', 'tools', [{ name: '_x', inputSchema: {} }, { name: 'dup', inputSchema: {}, annotations: { readOnlyHint: true } }, { name: 'dup', inputSchema: {} }]);
  c.set('a_', 'tools', [{ name: 'x', inputSchema: {} }]);
  assert.deepEqual(c.entries('tools', ['a', 'a_']).map((e) => e.item.name), []);
  assert.deepEqual(c.collision('tools', 'a___x', ['a', 'a_'])?.upstreams, ['a', 'a_']);
  assert.match(collisionError(c.collision('tools', 'a__dup', ['a', 'a_'])!).message, /upstream "a" lists it 2 times/);
});

test('resource URIs two upstreams list (in any spelling) are withheld; one upstream listing one twice is one resource', () => {
  const c = new Catalog({ separator: '__', prefix: 'auto', upstreamCount: 2 });
  c.set('a', 'resources', [{ uri: 'test://one', name: 'one' }, { uri: 'test://one', name: 'again' }, { uri: 'test://shared/x', name: 'x' }]);
  c.set('b', 'resources', [{ uri: 'TEST://shared/y/../x', name: 'x' }]);
  assert.equal(c.resolveUri('test://one', ['a', 'b']), 'a');
  assert.throws(() => c.resolveUri('test://shared/x', ['a', 'b']), (e: unknown) => e instanceof WardenError && e.code === 'name_collision' && /"a" and "b"/.test(e.message));
  c.set('a', 'resourceTemplates', [{ uriTemplate: 'test://item/{id}', name: 'item' }]);
  c.set('b', 'resourceTemplates', [{ uriTemplate: 'test://item/{n}', name: 'item' }]);
  assert.throws(() => c.resolveUri('test://item/7', ['a', 'b']), /ambiguous/);
});

test('servers whose names are ambiguous as prefixes are refused by the config, naming both', () => {
  const servers = (...names: string[]) => Object.fromEntries(names.map((n) => [n, { command: 'x' }]));
  assert.throws(() => validateConfig({ auth: { mode: 'none' }, mcpServers: servers('a', 'a_') }, 'test'), /servers "a" and "a_" give ambiguous tool names/);
  assert.throws(() => validateConfig({ auth: { mode: 'none' }, naming: { separator: '--' }, mcpServers: servers('git', 'git-') }, 'test'), /"git" and "git-"/);
  validateConfig({ auth: { mode: 'none' }, mcpServers: servers('a', 'ab', 'b_a') }, 'test');
  validateConfig({ auth: { mode: 'none' }, naming: { prefix: 'never' }, mcpServers: servers('a', 'a_') }, 'test');
  validateConfig({ auth: { mode: 'none' }, naming: { separator: '-x' }, mcpServers: servers('a', 'a-') }, 'test');
});

test('resource URIs are routed by listing first, then by template', () => {
  const c = new Catalog({ separator: '__', prefix: 'auto', upstreamCount: 2 });
  c.set('a', 'resources', [{ uri: 'test://one', name: 'one' }]);
  c.set('b', 'resourceTemplates', [{ uriTemplate: 'test://item/{id}', name: 'item' }]);
  assert.equal(c.resolveUri('test://one', ['a', 'b']), 'a');
  assert.equal(c.resolveUri('test://item/7', ['a', 'b']), 'b');
  assert.equal(c.resolveUri('test://nothing', ['a', 'b']), undefined);
});
