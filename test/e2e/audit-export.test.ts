/**
 * The audit as an operator meets it: a running gateway exports to a JSONL file and to a webhook that is
 * down at first, `warden audit trace` and `warden audit verify` read the same store, and retention prunes
 * only through a checkpoint so the chain still verifies.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { pruneExpired } from '../../src/audit/retention.js';
import { verifyWebhookSignature } from '../../src/audit/sinks/index.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { startCollector, type Collector } from '../fixtures/otlp-collector.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { ROOT, everythingStdio } from '../helpers/servers.js';

const SECRET = 'a-webhook-secret-of-32-bytes-len!';

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('audit exports, traces and verify on a running gateway', () => {
  let gw: TestGateway;
  let hook: Collector;
  let sessionId = '';

  before(async () => {
    process.env.WARDEN_TEST_WEBHOOK_SECRET = SECRET;
    hook = await startCollector({ down: true }); // down while the first events are written
    gw = await startTestGateway(
      { every: everythingStdio() },
      {
        audit: {
          arguments: 'redacted',
          checkpoint: { everyEvents: 5, everySeconds: 1 },
          sinks: { jsonl: { dir: 'exports', maxBytes: 4096, keepFiles: 50 }, webhook: { url: `${hook.url()}/hook`, secretEnv: 'WARDEN_TEST_WEBHOOK_SECRET', timeoutMs: 2000 } },
          export: { pollMs: 100, minBackoffMs: 100, maxBackoffMs: 300 },
        },
      },
    );
    const s = new RawSession(gw.url);
    await s.initialize();
    sessionId = s.sessionId;
    for (let i = 0; i < 12; i++) await s.request('tools/call', { name: 'echo', arguments: { message: `m${i}`, password: 'hunter2-do-not-log' } });
  });
  after(async () => {
    await gw?.close();
    await hook?.close();
    delete process.env.WARDEN_TEST_WEBHOOK_SECRET;
  });

  test('the JSONL sink receives every event in seq order, across rotated files, with secrets redacted', async () => {
    const expected = (await gw.store.audit.readChain(0, 1000)).map((e) => e.seq!);
    const dir = join(gw.dir, 'exports');
    const lines = () =>
      readdirSync(dir)
        .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as { seq: number; arguments?: string });
    await until(() => lines().length >= expected.length);
    assert.ok(readdirSync(dir).length > 1, 'rotated by size');
    assert.deepEqual(
      lines().map((e) => e.seq).sort((a, b) => a - b),
      expected,
    );
    const text = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
    assert.ok(!text.includes('hunter2-do-not-log'), 'redacted arguments never carry the password');
    assert.match(text, /\[redacted\]/);
  });

  test('a webhook that was down receives everything once it is back, in order, signed', async () => {
    hook.up();
    const stored = (await gw.store.audit.readChain(0, 1000)).map((e) => e.seq!);
    const delivered = () => hook.received.filter((r) => r.status === 200).flatMap((r) => (JSON.parse(r.body) as { events: { seq: number }[] }).events.map((e) => e.seq));
    await until(() => stored.every((seq) => delivered().includes(seq)));
    const seqs = delivered();
    assert.deepEqual([...new Set(seqs)].sort((a, b) => a - b), [...new Set(seqs)], 'in order');
    for (const r of hook.received) {
      const headers = { timestamp: r.headers['x-warden-timestamp'] as string, signature: r.headers['x-warden-signature'] as string };
      assert.ok(verifyWebhookSignature(SECRET, headers, r.body), 'HMAC verifies with the secret');
      assert.ok(!verifyWebhookSignature('another-secret-of-enough-length!!', headers, r.body));
    }
    assert.ok(!gw.logs().includes(SECRET), 'the secret is never logged');
  });

  test('audit trace and audit verify read the store through the real binary', () => {
    const config = join(gw.dir, 'cli.yaml');
    writeFileSync(config, stringify({ store: join(gw.dir, 'warden.db'), auth: { mode: 'none' }, mcpServers: {} }));
    const trace = spawnSync(process.execPath, [join(ROOT, 'bin/warden.js'), 'audit', 'trace', '--config', config, '--session', sessionId], { encoding: 'utf8' });
    assert.equal(trace.status, 0, trace.stderr);
    assert.match(trace.stdout, /tools\/call/);
    assert.match(trace.stdout, /every\/echo|echo/);
    const verify = spawnSync(process.execPath, [join(ROOT, 'bin/warden.js'), 'audit', 'verify', '--config', config, '--json'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.equal((JSON.parse(verify.stdout) as { ok: boolean }).ok, true);
  });

  test('retention prunes only through a checkpoint no sink still needs, and the chain verifies from it', async () => {
    const before = await gw.store.audit.count();
    // The pump moves a sink's cursor just after the sink has the batch: wait until both have everything.
    const head = (await gw.store.audit.head())!.seq;
    for (const end = Date.now() + 10_000; ; ) {
      const cursors = [await gw.store.audit.getSinkCursor('jsonl'), await gw.store.audit.getSinkCursor('webhook')];
      if (cursors.every((c) => c >= head)) break;
      assert.ok(Date.now() < end, `sink cursors ${cursors.join(', ')} never reached ${head}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const deleted = await pruneExpired(gw.store.audit, { retentionDays: 1, sinks: ['jsonl', 'webhook'], now: () => Date.now() + 2 * 86_400_000 });
    assert.ok(deleted > 0 && deleted < before, `pruned ${deleted} of ${before}`);
    const result = await verifyAudit(gw.store);
    assert.equal(result.ok, true, JSON.stringify(result.firstBroken));
  });
});
