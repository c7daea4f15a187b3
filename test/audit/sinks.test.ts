/** Audit exports: the pump (outbox, order, backoff, never blocking), and the JSONL, webhook and OTLP sinks. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { AuditEvent } from '../../src/audit/event.js';
import { JsonlSink, OtlpSink, SinkPump, WebhookSink, backoffDelay, spanIds, verifyWebhookSignature, type CursorStore, type EventSource, type PumpOptions, type OtlpSpan, type SequencedEvent, type Sink } from '../../src/audit/sinks/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { startCollector } from '../fixtures/otlp-collector.js';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const T0 = Date.parse('2025-06-01T10:00:00.000Z');
function ev(seq: number, o: Partial<AuditEvent> = {}): SequencedEvent {
  const id = `0197${seq.toString(16).padStart(4, '0')}-0000-7000-8000-${seq.toString(16).padStart(12, '0')}`;
  const base: AuditEvent = { id, time: new Date(T0 + seq * 1000).toISOString(), instance: 'gw-1', sessionId: 'sess-1', agent: 'coder', user: 'alice', tenant: 'acme', chain: ['planner'], authMethod: 'gateway-token', protocolVersion: '2025-11-25', method: 'tools/call', upstream: 'files', target: 'read_file', argsDigest: null, outcome: 'ok', errorCode: null, latencyMs: 2.5, ...o };
  return { ...base, seq };
}

/** The audit table, in memory. */
class Outbox implements EventSource {
  events: SequencedEvent[] = [];
  hide = new Set<number>();
  constructor(n = 0) {
    this.append(n);
  }
  append = (n: number) => void this.events.push(...range(this.events.length + 1, this.events.length + n).map((s) => ev(s)));
  readAfter = async (seq: number, limit: number) => this.events.filter((e) => e.seq > seq && !this.hide.has(e.seq)).slice(0, limit);
}
class Cursors implements CursorStore {
  m = new Map<string, number>();
  get = async (s: string) => this.m.get(s) ?? 0;
  set = async (s: string, seq: number) => void this.m.set(s, seq);
}
function capture() {
  const lines: string[] = [];
  const log = createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
  return { log, text: () => lines.join('') };
}
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(5)) if (Date.now() > end) throw new Error('timed out waiting');
}
const pumps: SinkPump[] = [];
function pump(src: EventSource, cur: CursorStore, sinks: Sink[], opts: PumpOptions = {}, log = capture().log): SinkPump {
  const p = new SinkPump(src, cur, sinks, log, { minBackoffMs: 20, maxBackoffMs: 80, pollMs: 0, ...opts });
  pumps.push(p);
  p.start();
  return p;
}
const made: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-sinks-'));
  made.push(dir);
  return dir;
};
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
const seqsOf = (text: string) => text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq);
const collect = (name: string, got: number[]): Sink => ({ name, deliver: async (es) => void got.push(...es.map((e) => e.seq!)) });
after(() => Promise.all(pumps.map((p) => p.stop(100))));

describe('pump', () => {
  test('backoff doubles from the minimum to the cap', () => {
    assert.deepEqual(range(1, 8).map((f) => backoffDelay(f, 1000, 60_000)), [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
  });

  test('a slow sink never blocks the producer, and gets everything once released', async () => {
    const [src, cur] = [new Outbox(), new Cursors()];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const got: number[] = [];
    let calls = 0;
    const slow: Sink = { name: 'slow', deliver: async (es) => void (calls++, await gate, got.push(...es.map((e) => e.seq!))) };
    const p = pump(src, cur, [slow], { batchSize: 100 });
    let worst = 0;
    const started = performance.now();
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      await new Promise((r) => setImmediate(r)); // like record(): one commit per event-loop turn
      src.append(1);
      p.wake();
      worst = Math.max(worst, performance.now() - t);
    }
    assert.deepEqual([calls, got.length], [1, 0], 'all 2000 appends done while the one delivery still hangs');
    // The delivery hangs until released, so an append that waited on it would never finish: the bounds are wide for busy machines.
    assert.ok(performance.now() - started < 20_000 && worst < 1000, `appends never waited on the sink (worst ${worst.toFixed(1)} ms)`);
    release();
    await until(() => got.length >= 2000);
    assert.deepEqual(got, range(1, 2000));
    assert.equal(await cur.get('slow'), 2000);
  });

  test('a failing sink is retried on its backoff, not on every wake', async () => {
    const src = new Outbox(3);
    let calls = 0;
    const down: Sink = { name: 'down', deliver: async () => Promise.reject(new Error(`down ${++calls}`)) };
    // A backoff far longer than the loop below can take on a busy machine: any second call is a retry on wake.
    const p = pump(src, new Cursors(), [down], { minBackoffMs: 60_000, maxBackoffMs: 60_000 });
    await until(() => calls === 1);
    for (let i = 0; i < 50; i++) {
      src.append(1);
      p.wake();
      await sleep(2);
    }
    assert.equal(calls, 1);
    assert.ok((p.status()[0]?.retryAt ?? 0) > Date.now());
  });

  test('a gap is waited for, then passed', async () => {
    const src = new Outbox(6);
    src.hide.add(3);
    const got: number[] = [];
    const p = pump(src, new Cursors(), [collect('s', got)], { gapWaitMs: 10_000 });
    await until(() => got.length === 2);
    await sleep(150);
    assert.deepEqual(got, [1, 2], 'waits at the gap');
    src.hide.clear();
    p.wake();
    await until(() => got.length === 6);
    assert.deepEqual(got, range(1, 6));
    const q = new Outbox(4);
    q.hide.add(2);
    const got2: number[] = [];
    pump(q, new Cursors(), [collect('t', got2)], { gapWaitMs: 30 });
    await until(() => got2.length === 3);
    assert.deepEqual(got2, [1, 3, 4], 'a gap that never fills is passed after gapWaitMs');
  });
});

describe('jsonl sink', () => {
  test('receives everything in order; a new pump resumes at the cursor', async () => {
    const dir = join(tmp(), 'nested', 'audit');
    const [src, cur] = [new Outbox(700), new Cursors()];
    const sink = new JsonlSink({ dir });
    const p = pump(src, cur, [sink], { batchSize: 128, maxBatchesPerRun: 2 });
    await until(() => cur.m.get('jsonl') === 700);
    src.append(300);
    p.wake();
    await until(() => cur.m.get('jsonl') === 1000);
    await p.stop();
    src.append(5);
    pump(src, cur, [new JsonlSink({ dir })]);
    await until(() => cur.m.get('jsonl') === 1005);
    assert.deepEqual(seqsOf(readFileSync(sink.path, 'utf8')), range(1, 1005));
  });

  test('rotation keeps N files, none over maxBytes, every line accounted for', async () => {
    const lineBytes = JSON.stringify(ev(100)).length + 1;
    for (const keepFiles of [100, 3]) {
      const sink = new JsonlSink({ dir: tmp(), maxBytes: lineBytes * 10, keepFiles });
      const [src, cur] = [new Outbox(250), new Cursors()];
      pump(src, cur, [sink], { batchSize: 64 });
      await until(() => cur.m.get('jsonl') === 250);
      const present = sink.files().filter((f) => readdirSync(join(f, '..')).includes(f.split('/').pop()!));
      const all = [...present].reverse().flatMap((f) => seqsOf(readFileSync(f, 'utf8')));
      for (const f of present) assert.ok(statSync(f).size <= lineBytes * 10 + 20);
      if (keepFiles === 3) {
        assert.equal(present.length, 3);
        assert.deepEqual(all, range(250 - all.length + 1, 250), 'the newest lines, contiguous');
      } else assert.deepEqual(all, range(1, 250));
    }
  });

  test('a repeated batch after a restart is not written twice; a torn line is closed', async () => {
    const dir = tmp();
    const batch = range(1, 5).map((s) => ev(s));
    await new JsonlSink({ dir }).deliver(batch);
    await new JsonlSink({ dir }).deliver([...batch, ev(6)]);
    const path = join(dir, 'warden-audit.jsonl');
    assert.deepEqual(seqsOf(readFileSync(path, 'utf8')), range(1, 6));
    writeFileSync(path, readFileSync(path, 'utf8') + '{"seq":7,"id":"torn', { flag: 'w' });
    await new JsonlSink({ dir }).deliver([ev(7)]);
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    assert.equal(JSON.parse(lines.at(-1)!).seq, 7);
  });
});

describe('webhook sink', () => {
  const secret = 'whsec-0123456789abcdef';

  test('down (connections reset, then 503) and back: every event arrives in order, signed', async () => {
    const rx = await startCollector({ down: true });
    const [src, cur, cap] = [new Outbox(20), new Cursors(), capture()];
    const p = pump(src, cur, [new WebhookSink({ url: `${rx.url()}/hook?token=t0psecret`, secret, timeoutMs: 2000 })], { batchSize: 7 }, cap.log);
    await until(() => (p.status()[0]?.failures ?? 0) >= 2);
    src.append(15);
    p.wake();
    rx.respond = () => (rx.received.length < 3 ? 503 : 200);
    rx.up();
    await until(() => cur.m.get('webhook') === 35);
    await rx.close();
    const seen: number[] = [];
    for (const r of rx.received) {
      const ts = String(r.headers['x-warden-timestamp']);
      const sig = String(r.headers['x-warden-signature']);
      assert.ok(verifyWebhookSignature(secret, { timestamp: ts, signature: sig }, r.body));
      assert.equal(verifyWebhookSignature('wrong-secret-0123456789', { timestamp: ts, signature: sig }, r.body), false);
      assert.equal(verifyWebhookSignature(secret, { timestamp: String(Number(ts) - 3600), signature: sig }, r.body), false, 'an old timestamp is refused');
      const seqs = (JSON.parse(r.body) as { events: SequencedEvent[] }).events.map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      if (r.status === 200) for (const s of seqs) if (!seen.includes(s)) seen.push(s);
    }
    assert.deepEqual(seen, range(1, 35), 'everything, once deduplicated, in order');
    assert.equal(rx.received.filter((r) => r.status === 503).length, 3);
    assert.equal(p.status()[0]?.failures, 0);
    const logs = cap.text();
    assert.match(logs, /audit sink delivery failed/);
    for (const leak of [secret, 't0psecret', 'alice', 'read_file']) assert.ok(!logs.includes(leak), `logs do not contain ${leak}`);
  });

  test('only http(s), a real secret, and 2xx counts', async () => {
    assert.throws(() => new WebhookSink({ url: 'file:///etc/passwd', secret }), /http or https/);
    assert.throws(() => new WebhookSink({ url: 'http://127.0.0.1/', secret: 'short' }), /16 bytes/);
    const rx = await startCollector();
    rx.respond = () => 302;
    const err = await new WebhookSink({ url: rx.url(), secret }).deliver([ev(1)]).catch((e: Error) => e);
    await rx.close();
    assert.ok(err instanceof Error && /HTTP 302/.test(err.message) && !err.message.includes(secret) && !err.message.includes(rx.url()));
  });
});

describe('otlp sink', () => {
  test('one span per event with principal and decision attributes and stable ids', async () => {
    const rx = await startCollector();
    const [src, cur] = [new Outbox(), new Cursors()];
    src.events.push(ev(1), ev(2, { outcome: 'denied', errorCode: 'forbidden', chain: [], agent: 'cli', upstream: null, target: null, method: 'tools/list', latencyMs: 0 }));
    pump(src, cur, [new OtlpSink({ endpoint: rx.url() + '/' })]);
    await until(() => cur.m.get('otlp') === 2);
    await new OtlpSink({ endpoint: rx.url() }).deliver(src.events.slice(0, 1));
    await rx.close();
    const r = rx.received[0]!;
    assert.equal(r.path, '/v1/traces');
    assert.equal(r.headers['content-type'], 'application/json');
    type Span = OtlpSpan;
    const body = JSON.parse(r.body) as { resourceSpans: { resource: { attributes: { key: string }[] }; scopeSpans: { spans: Span[] }[] }[] };
    assert.equal(body.resourceSpans[0]!.resource.attributes[0]!.key, 'service.name');
    const [a, b] = body.resourceSpans[0]!.scopeSpans[0]!.spans as [Span, Span];
    const attr = (s: Span, k: string) => s.attributes.find((x) => x.key === k)?.value;
    assert.equal(a.name, 'tools/call files/read_file');
    assert.deepEqual({ traceId: a.traceId, spanId: a.spanId }, spanIds(src.events[0]!.id));
    assert.match(`${a.traceId}:${a.spanId}`, /^[0-9a-f]{32}:[0-9a-f]{16}$/);
    assert.equal(a.startTimeUnixNano, String(BigInt(T0 + 1000) * 1_000_000n));
    assert.equal(BigInt(a.endTimeUnixNano) - BigInt(a.startTimeUnixNano), 2_500_000n);
    assert.equal(a.status.code, 1);
    const str = (v: string) => ({ stringValue: v });
    const want = { 'warden.user': str('alice'), 'warden.agent': str('coder'), 'warden.tenant': str('acme'), 'warden.chain': { arrayValue: { values: [str('planner')] } }, 'warden.auth_method': str('gateway-token'), 'warden.outcome': str('ok'), 'mcp.method': str('tools/call'), 'mcp.upstream': str('files'), 'mcp.target': str('read_file'), 'mcp.session_id': str('sess-1') };
    for (const [k, v] of Object.entries(want)) assert.deepEqual(attr(a, k), v, k);
    assert.equal(b.name, 'tools/list');
    assert.deepEqual(b.status, { code: 2, message: 'forbidden' });
    assert.deepEqual(attr(b, 'warden.error_code'), { stringValue: 'forbidden' });
    assert.equal(attr(b, 'warden.chain'), undefined);
    const again = (JSON.parse(rx.received[1]!.body) as typeof body).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.deepEqual([again.traceId, again.spanId], [a.traceId, a.spanId], 'redelivery is the same span');
  });
});
