import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argsDigest, canonicalJson } from '../../src/audit/digest.js';
import { uuidv7 } from '../../src/core/ids.js';
import { toJsonRpcError, UpstreamRpcError, WardenError } from '../../src/protocol/errors.js';
import { parseMessage, toMessage } from '../../src/protocol/jsonrpc.js';
import { negotiateLegacy, stripModernMeta } from '../../src/protocol/revisions.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as WardenError).code;
  }
  return 'no error';
};

test('JSON-RPC validation names what is wrong', () => {
  assert.equal(code(() => parseMessage('{not json')), 'parse_error');
  assert.equal(code(() => parseMessage('[]')), 'batch_not_supported');
  assert.equal(code(() => toMessage({ id: 1, method: 'x' })), 'invalid_request');
  assert.equal(code(() => toMessage({ jsonrpc: '1.0', id: 1, method: 'x' })), 'invalid_request');
  assert.equal(code(() => toMessage({ jsonrpc: '2.0', id: { a: 1 }, method: 'x' })), 'invalid_request');
  assert.equal(code(() => toMessage({ jsonrpc: '2.0', id: 1, method: 'x', params: [1] })), 'invalid_request');
  assert.equal(code(() => toMessage({ jsonrpc: '2.0', id: 1, method: '' })), 'invalid_request');
  assert.equal(code(() => toMessage({ jsonrpc: '2.0', id: 1, result: 'text' })), 'invalid_request');
  assert.equal(code(() => toMessage({ jsonrpc: '2.0', id: 1, error: { message: 'no code' } })), 'invalid_request');
  assert.equal(code(() => toMessage('string')), 'invalid_request');
  assert.equal(code(() => toMessage({ jsonrpc: '2.0', id: 1, method: 'ping' })), 'no error');
  assert.equal(code(() => toMessage({ jsonrpc: '2.0', method: 'notifications/initialized' })), 'no error');
  assert.equal(code(() => toMessage({ jsonrpc: '2.0', id: 'a', result: {} })), 'no error');
});

test('errors map to JSON-RPC without internals; upstream errors relay as sent', () => {
  const internal = toJsonRpcError(new Error('secret detail at /etc/passwd'));
  assert.equal(internal.message, 'Internal gateway error');
  assert.ok(!JSON.stringify(internal).includes('secret'));
  assert.deepEqual(toJsonRpcError(new UpstreamRpcError(-32000, 'tool failed', { x: 1 })), { code: -32000, message: 'tool failed', data: { x: 1 } });
  assert.equal(toJsonRpcError(new WardenError('unknown_tool', 'Unknown tool: x', -32602)).data?.reason, 'unknown_tool');
});

test('legacy negotiation and modern metadata stripping', () => {
  assert.equal(negotiateLegacy('2025-06-18'), '2025-06-18');
  assert.equal(negotiateLegacy('1999-01-01'), '2025-11-25');
  assert.equal(negotiateLegacy(undefined), '2025-11-25');
  const plain = { name: 't', _meta: { progressToken: 1 } };
  assert.equal(stripModernMeta(plain), plain, 'nothing to strip costs no copy');
  assert.deepEqual(stripModernMeta({ name: 't', _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', progressToken: 2 } }), { name: 't', _meta: { progressToken: 2 } });
  assert.deepEqual(stripModernMeta({ name: 't', _meta: { 'io.modelcontextprotocol/clientInfo': {} } }), { name: 't' });
});

test('argument digests are canonical (key order does not matter) and never contain the values', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  const d1 = argsDigest({ path: '/x', token: 'hunter2' });
  assert.equal(d1, argsDigest({ token: 'hunter2', path: '/x' }));
  assert.notEqual(d1, argsDigest({ token: 'hunter3', path: '/x' }));
  assert.match(d1!, /^sha256:[0-9a-f]{64}$/);
  assert.ok(!d1!.includes('hunter2'));
  assert.equal(argsDigest(undefined), null);
});

test('UUIDv7 ids are well-formed, unique and strictly increasing in one process', () => {
  const a = uuidv7(1_700_000_000_000);
  const b = uuidv7(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
  const many = Array.from({ length: 5000 }, () => uuidv7(1_700_000_000_000));
  assert.equal(new Set(many).size, 5000);
  assert.deepEqual([...many].sort(), many, 'strictly increasing within a millisecond, and past 4096 ids in one');
  assert.ok(uuidv7(1_600_000_000_000) > many.at(-1)!, 'a clock that steps back does not reorder ids');
});
