/** Tool classification: annotations only where trusted, unsafe defaults otherwise, operator globs last. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyTool, globMatches, serverFacts } from '../../src/gateway/classification.js';
import { RateMeter } from '../../src/gateway/rate-meter.js';

const readOnly = { name: 'read_file', annotations: { readOnlyHint: true, openWorldHint: false } };
const server = (over: Record<string, unknown> = {}) => ({ command: 'x', args: [], env: {}, ...over });

test('annotations count only where the server is trusted; otherwise a tool writes, destroys, is high risk', () => {
  assert.deepEqual(classifyTool(server(), readOnly), { access: 'write', destructive: true, openWorld: true, risk: 'high', dataClasses: [] });
  assert.deepEqual(classifyTool(server({ trustAnnotations: true }), readOnly), { access: 'read', destructive: false, openWorld: false, risk: 'low', dataClasses: [] });
});

test('trusted annotations follow MCP defaults: destructive and open-world unless said otherwise', () => {
  const trusted = server({ trustAnnotations: true });
  assert.deepEqual(classifyTool(trusted, { name: 'x', annotations: {} }), { access: 'write', destructive: true, openWorld: true, risk: 'high', dataClasses: [] });
  assert.deepEqual(classifyTool(trusted, { name: 'x', annotations: { destructiveHint: false, openWorldHint: false } }), {
    access: 'write',
    destructive: false,
    openWorld: false,
    risk: 'medium',
    dataClasses: [],
  });
  // A trusted server that sends no annotations for a tool gets no benefit of the doubt.
  assert.equal(classifyTool(trusted, { name: 'x' }).destructive, true);
  assert.equal(classifyTool(trusted, { name: 'x', annotations: 'read-only' }).access, 'write');
});

test('operator overrides by glob apply in order over annotations', () => {
  const s = server({ trustAnnotations: true, tools: { 'read_*': { dataClasses: ['pii'] }, read_file: { risk: 'critical' }, 'exec?': { access: 'execute' } } });
  assert.deepEqual(classifyTool(s, readOnly), { access: 'read', destructive: false, openWorld: false, risk: 'critical', dataClasses: ['pii'] });
  assert.equal(classifyTool(s, { name: 'exec1' }).access, 'execute');
  assert.equal(classifyTool(s, { name: 'exec12' }).access, 'write');
  assert.equal(classifyTool(server({ tools: { '*': { access: 'read', destructive: false } } }), { name: 'anything' }).access, 'read');
});

test('globs: * and ? only; regex characters are literal', () => {
  assert.ok(globMatches('a.b*', 'a.bcd'));
  assert.ok(!globMatches('a.b*', 'axbcd'));
  assert.ok(globMatches('(x)?', '(x)1'));
  assert.ok(!globMatches('read', 'read_file'));
});

test('server facts: unset environment counts as prod; tenant and data classes carried', () => {
  assert.deepEqual(serverFacts('files', server()), { name: 'files', environment: 'prod', tenant: undefined, trustAnnotations: false, dataClasses: [] });
  assert.deepEqual(serverFacts('f', server({ environment: 'dev', tenant: 'acme', dataClasses: ['pii'] })).tenant, 'acme');
});

test('rate meter: calls in the last minute per agent', () => {
  let now = 1_000_000;
  const m = new RateMeter(() => now);
  assert.equal(m.hit('a'), 1);
  assert.equal(m.hit('a'), 2);
  assert.equal(m.hit('b'), 1);
  now += 30_000;
  assert.equal(m.hit('a'), 3);
  now += 31_000;
  assert.equal(m.peek('a'), 1, 'the first two calls are more than a minute old');
  now += 120_000;
  assert.equal(m.peek('a'), 0);
  assert.equal(m.hit('a'), 1);
});
