/**
 * Fuzz: JSON-RPC framing, both ways. A client body (parseMessage), an upstream line (LineReader and the
 * bounded parse), and whatever an upstream sends reaching the RpcPeer. Each must return or fail with its
 * own typed error, in bounded time, and never let a message nested too deep through.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { jsonDepthExceeds, valueDepthExceeds } from '../../src/protocol/bounded-json.js';
import { WardenError } from '../../src/protocol/errors.js';
import { parseMessage } from '../../src/protocol/jsonrpc.js';
import { DEFAULT_UPSTREAM_BOUNDS, UpstreamFault } from '../../src/upstream/fault.js';
import { LineReader } from '../../src/upstream/line-reader.js';
import { RpcPeer } from '../../src/upstream/rpc-peer.js';
import { BOUND_MS, expectOnly, fuzzParams, within } from './fuzz.js';

const CLIENT_ERRORS = new Set(['parse_error', 'invalid_request', 'batch_not_supported', 'body_too_deep']);

/** JSON text nested `depth` levels, of mixed arrays and objects, with strings holding brackets. */
const nested = fc.tuple(fc.integer({ min: 1, max: 300 }), fc.array(fc.constantFrom('[', '{"k":'), { minLength: 1, maxLength: 4 })).map(([depth, opens]) => {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const o = opens[i % opens.length]!;
    open += o;
    close = (o === '[' ? ']' : '}') + close;
  }
  return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"s":"]}[{\\"","a":${open}"x"${close}}}`;
});

/** A valid message with one of its parts replaced by anything. */
const mutated = fc
  .record({
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue()),
    id: fc.oneof(fc.integer(), fc.string(), fc.jsonValue(), fc.constant(undefined)),
    method: fc.oneof(fc.constantFrom('tools/call', 'initialize', '', 'x\ud800'), fc.string(), fc.jsonValue(), fc.constant(undefined)),
    params: fc.oneof(fc.jsonValue(), fc.constant(undefined)),
    result: fc.oneof(fc.jsonValue(), fc.constant(undefined)),
    error: fc.oneof(fc.record({ code: fc.jsonValue(), message: fc.jsonValue() }), fc.jsonValue(), fc.constant(undefined)),
  })
  .map((m) => JSON.stringify(m));

const bodies = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.json({ maxDepth: 8 }), mutated, nested);

describe('fuzz: JSON-RPC framing', () => {
  test('a client body is a message or a 400 with a named reason, in bounded time', () => {
    fc.assert(
      fc.property(bodies, (text) => {
        const { value, error } = within(BOUND_MS, () => parseMessage(text));
        expectOnly(error, WardenError);
        if (error instanceof WardenError) {
          assert.ok(CLIENT_ERRORS.has(error.code), error.code);
          assert.equal(error.httpStatus, 400);
          return;
        }
        const m = value as unknown as Record<string, unknown>;
        assert.equal(m.jsonrpc, '2.0');
        assert.ok(!valueDepthExceeds(m, 64), 'nothing deeper than the bound gets through');
        if ('method' in m) assert.ok(typeof m.method === 'string' && m.method.length > 0 && (m.method as unknown as { isWellFormed(): boolean }).isWellFormed());
        else assert.ok(typeof m.id === 'string' || typeof m.id === 'number');
      }),
      fuzzParams(600),
    );
  });

  test('the text depth scan agrees with the depth of the parsed value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 12 }), nested.map((t) => JSON.parse(t) as unknown)), fc.integer({ min: 1, max: 20 }), (value, max) => {
        assert.equal(jsonDepthExceeds(JSON.stringify(value), max), valueDepthExceeds(value, max));
      }),
      fuzzParams(600),
    );
  });

  test('upstream lines: any chunking of any bytes gives the same lines; a line over the bound is a fault', () => {
    const bytes = fc.uint8Array({ maxLength: 400 }).chain((b) =>
      fc.tuple(
        fc.constant(Buffer.from(b.map((x) => (x % 5 === 0 ? 10 : x % 7 === 0 ? 13 : x)))),
        fc.array(fc.nat({ max: 400 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 120 }),
      ),
    );
    fc.assert(
      fc.property(bytes, ([buf, cuts, max]) => {
        const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points].map((p, i, all) => buf.subarray(p, all[i + 1] ?? buf.length));
        const segments = buf.toString('latin1').split('\n');
        const overLong = segments.some((s) => Buffer.byteLength(s, 'latin1') > max);
        const reader = new LineReader(max);
        const got: string[] = [];
        const { error } = within(BOUND_MS, () => {
          for (const c of chunks) got.push(...reader.push(c));
        });
        expectOnly(error, UpstreamFault);
        assert.equal(error !== undefined, overLong, `fault iff a line is longer than ${max}`);
        if (error) return;
        const complete = segments.slice(0, -1).map((s) => Buffer.from(s, 'latin1'));
        const expected = complete.map((b) => b.toString('utf8', 0, b.at(-1) === 13 ? b.length - 1 : b.length));
        assert.deepEqual(got, expected);
      }),
      fuzzParams(600),
    );
  });

  test('whatever an upstream sends, the peer answers, drops or fails the connection; it never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.jsonValue({ maxDepth: 6 }), mutated.map((t) => JSON.parse(t) as unknown)), { maxLength: 20 }), fc.boolean(), async (messages, handlersThrow) => {
        const sent: unknown[] = [];
        const transport: Transport = { start: async () => undefined, send: async (m) => void sent.push(m), close: async () => transport.onclose?.() };
        let closedWith: UpstreamFault | undefined;
        const boom = () => {
          if (handlersThrow) throw new TypeError('handler failed');
          return Promise.resolve({});
        };
        const peer = new RpcPeer(transport, 'fuzz', { onRequest: boom, onNotification: () => void boom(), onClose: (_u, f) => (closedWith = f) }, DEFAULT_UPSTREAM_BOUNDS);
        const pending = peer.request('tools/call', {}, { timeoutMs: 1000 }).catch((e: unknown) => e);
        for (const m of messages) within(BOUND_MS, () => transport.onmessage?.(m as JSONRPCMessage));
        await peer.close();
        const settled = await pending;
        assert.ok(settled instanceof Error || typeof settled === 'object', 'the pending call settled');
        if (closedWith) assert.match(closedWith.message, /could not be handled/);
      }),
      fuzzParams(300),
    );
  });
});
