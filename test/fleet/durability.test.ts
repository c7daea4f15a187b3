/**
 * Fleet durability, with real gateway processes (`node bin/warden.js serve`) on one real PostgreSQL and the
 * reference server-everything behind a recording pass-through (every line the upstream receives is logged,
 * so the test knows which calls the upstream ran):
 * - a silent partition (a TCP proxy between the gateway and PostgreSQL stops forwarding, closing nothing) is
 *   refused with HTTP 503 within maxStalenessSeconds, /readyz turns 503 and back, /livez stays 200;
 * - kill -9 under load: every call the upstream ran has its intent record; `audit verify` passes and lists
 *   the calls cut by the kill as unfinished;
 * - SIGTERM drains: readiness 503, no new connection, calls in flight finish and are recorded `ok`;
 * - a rolling restart of two replicas under load loses no stateless call, and runs none twice.
 *
 * Needs WARDEN_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { argsDigest } from '../../src/audit/digest.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { openStore, type Store } from '../../src/store/index.js';
import { assertBuilt, devConfig, runWarden, startWarden, tempDir, waitFor, writeConfig, type RunningWarden } from '../helpers/e2e.js';
import { everythingStdio, recorded } from '../helpers/servers.js';
import { startFreezableProxy, type FreezableProxy } from './freezable-proxy.js';

const baseUrl = process.env.WARDEN_TEST_DATABASE_URL;
const MODERN = '2026-07-28';
const STALENESS_S = 2;

interface Answer {
  status: number;
  ms: number;
  body: { result?: Record<string, unknown>; error?: { code: number; message: string; data?: Record<string, unknown> } };
}

/** One stateless (2026-07-28) tools/call. */
async function call(url: string, tool: string, args: Record<string, unknown>, timeoutMs = 30_000): Promise<Answer> {
  const started = Date.now();
  const meta = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'durability', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} };
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': tool },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: args, _meta: meta } }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  const data = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
  return { status: res.status, ms: Date.now() - started, body: JSON.parse(data) as Answer['body'] };
}

const statusOf = async (url: string): Promise<number> => {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return -1;
  }
};

/** The echo messages the upstream received (from the recording pass-through's log). */
function ranMessages(file: string): string[] {
  if (!existsSync(file)) return [];
  const out: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const m = JSON.parse(line) as { method?: string; params?: { name?: string; arguments?: { message?: string } } };
    if (m.method === 'tools/call' && typeof m.params?.arguments?.message === 'string') out.push(m.params.arguments.message);
  }
  return out;
}

if (baseUrl === undefined || baseUrl === '') {
  test('fleet durability', { skip: 'WARDEN_TEST_DATABASE_URL is not set: PostgreSQL fleet durability tests skipped' }, () => {});
} else {
  describe('fleet durability on PostgreSQL', () => {
    const schema = `warden_test_${randomBytes(6).toString('hex')}_fd`;
    const admin = new pg.Client({ connectionString: baseUrl });
    const tmp = tempDir('warden-durability-');
    const record = join(tmp.dir, 'upstream.log');
    const children: RunningWarden[] = [];
    let proxy: FreezableProxy;
    let store: Store;

    const storeUrl = (port?: number): string => {
      const u = new URL(baseUrl);
      if (port !== undefined) {
        u.hostname = '127.0.0.1';
        u.port = String(port);
      }
      u.searchParams.set('schema', schema);
      return u.href;
    };
    const configFile = (name: string, port?: number): string =>
      writeConfig(
        tmp.dir,
        devConfig(
          { ev: recorded(everythingStdio(), record) },
          {
            store: storeUrl(port),
            revocation: { maxStalenessSeconds: STALENESS_S, pollMs: 200 },
            shutdown: { drainSeconds: 15 },
            metrics: { enabled: true, listen: '127.0.0.1:0' },
          },
        ),
        `${name}.yaml`,
      );
    const replica = async (name: string, port?: number): Promise<RunningWarden & { ops: string }> => {
      const w = await startWarden(configFile(name, port), { timeoutMs: 30_000 });
      children.push(w);
      await waitFor(() => /metrics, \/readyz and \/livez on (\S+)/.test(w.stdout()), 5000);
      const ops = /metrics, \/readyz and \/livez on (\S+)/.exec(w.stdout())![1]!;
      return { ...w, ops };
    };
    const events = async (): Promise<AuditEvent[]> => store.audit.readChain(0, 100_000);
    const echoDigest = (message: string): string | null => argsDigest({ message });

    before(async () => {
      assertBuilt();
      await admin.connect();
      const u = new URL(baseUrl);
      proxy = await startFreezableProxy(u.hostname, Number(u.port || 5432));
      store = await openStore(storeUrl()); // migrates the schema before any replica starts
    });

    after(async () => {
      await Promise.all(children.map((c) => c.stop(5000)));
      await store?.close();
      await proxy?.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await admin.end();
      tmp.remove();
    });

    test('a silent partition is refused with 503 within maxStalenessSeconds; /readyz goes 503 and back', { timeout: 90_000 }, async () => {
      const a = await replica('partition', proxy.port);
      const ok = await call(a.url, 'echo', { message: 'before-partition' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(await statusOf(new URL('/readyz', a.url).href), 200);

      proxy.freeze();
      try {
        const refused = await call(a.url, 'echo', { message: 'during-partition' });
        assert.equal(refused.status, 503, JSON.stringify(refused.body));
        assert.match(String(refused.body.error?.data?.reason), /^(audit|store|revocation)_unavailable$/);
        assert.ok(refused.ms < STALENESS_S * 1000 + 1500, `refused after ${refused.ms} ms (maxStalenessSeconds ${STALENESS_S})`);
        assert.ok(await waitFor(async () => (await statusOf(new URL('/readyz', a.url).href)) === 503, STALENESS_S * 1000 + 2000), '/readyz turns 503');
        assert.equal(await statusOf(new URL('/livez', a.url).href), 200, '/livez stays 200: the process is alive');
        assert.equal(await statusOf(new URL('/healthz', a.url).href), 200);
        // Known down: the next call is refused at once, before anything is forwarded.
        const fast = await call(a.url, 'echo', { message: 'during-partition-2' });
        assert.equal(fast.status, 503);
        assert.ok(fast.ms < 1000, `refused after ${fast.ms} ms: ${JSON.stringify(fast.body)} (first: ${refused.ms} ms ${JSON.stringify(refused.body)})`);
      } finally {
        proxy.thaw();
      }
      assert.ok(await waitFor(async () => (await statusOf(new URL('/readyz', a.url).href)) === 200, 15_000), '/readyz is 200 again');
      const back = await call(a.url, 'echo', { message: 'after-partition' });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      // Nothing refused reached the upstream.
      const ran = ranMessages(record);
      assert.ok(!ran.includes('during-partition-2'));
      const all = await events();
      if (ran.includes('during-partition')) assert.ok(all.some((e) => e.outcome === 'intent' && e.argsDigest === echoDigest('during-partition')));
      // The log shows it works again: by its own audit/restored record (written by the readiness probe when
      // the audit had failed), or, when a call's append got there first, by that call's record.
      const restored = all.some((e) => e.method === 'audit/restored');
      const after = all.some((e) => e.method === 'tools/call' && e.outcome === 'ok' && e.argsDigest === echoDigest('after-partition'));
      assert.ok(restored || after, 'the audit log records again after the partition');
      await a.stop(20_000);
    });

    test('kill -9 under load: every call the upstream ran has its intent; verify passes and shows the unfinished', { timeout: 90_000 }, async () => {
      const b = await replica('killed');
      assert.equal((await call(b.url, 'echo', { message: 'warm-up' })).status, 200, 'the upstream is started');
      let stop = false;
      const answered = new Map<string, Answer>();
      const loops = Array.from({ length: 6 }, async (_, i) => {
        for (let j = 0; !stop; j++) {
          const message = `kill-${i}-${j}`;
          try {
            answered.set(message, await call(b.url, 'echo', { message }, 10_000));
          } catch {
            return; // the process is gone
          }
        }
      });
      await new Promise((r) => setTimeout(r, 1500));
      b.child.kill('SIGKILL');
      stop = true;
      await Promise.all(loops);
      assert.ok(answered.size > 10, `some calls were served before the kill (${answered.size})`);

      const all = await events();
      const intents = new Map(all.filter((e) => e.outcome === 'intent').map((e) => [e.argsDigest, e]));
      const ran = ranMessages(record).filter((m) => m.startsWith('kill-'));
      assert.ok(ran.length > 0);
      for (const message of ran) assert.ok(intents.has(echoDigest(message)), `the upstream ran ${message}: its intent is recorded`);
      // Every call answered ok has its outcome record, closing its intent.
      for (const [message, a] of answered) {
        if (a.status !== 200 || !a.body.result) continue;
        const intent = intents.get(echoDigest(message))!;
        assert.ok(all.some((e) => e.intentId === intent.id && e.outcome === 'ok'), `${message} was answered: its outcome is recorded`);
      }
      const verify = await runWarden(['audit', 'verify', '--config', configFile('verify'), '--json'], { timeoutMs: 30_000 });
      assert.equal(verify.code, 0, verify.stderr + verify.stdout);
      const report = JSON.parse(verify.stdout) as { ok: boolean; unfinished: { id: string }[] };
      assert.equal(report.ok, true);
      const closed = new Set(all.map((e) => e.intentId).filter(Boolean));
      const open = [...intents.values()].filter((e) => !closed.has(e.id)).map((e) => e.id).sort();
      assert.deepEqual(report.unfinished.map((u) => u.id).sort(), open, 'verify lists exactly the intents without an outcome');
      const text = await runWarden(['audit', 'verify', '--config', configFile('verify')], { timeoutMs: 30_000 });
      if (open.length > 0) assert.match(text.stdout, /UNFINISHED/);
    });

    test('SIGTERM drains: calls in flight finish with their true outcome, readiness 503, then exit', { timeout: 90_000 }, async () => {
      const c = await replica('drained');
      assert.equal((await call(c.url, 'echo', { message: 'warm-up' })).status, 200, 'the upstream is started');
      const slow = Array.from({ length: 3 }, () => call(c.url, 'trigger-long-running-operation', { duration: 3, steps: 3 }));
      // All three forwarded (each has its intent) before the signal.
      assert.ok(await waitFor(async () => (await events()).filter((e) => e.outcome === 'intent' && e.target === 'trigger-long-running-operation').length === 3, 10_000));
      const exited = new Promise<number | null>((r) => c.child.once('exit', (code) => r(code)));
      c.child.kill('SIGTERM');
      assert.ok(await waitFor(async () => (await statusOf(new URL('/readyz', c.ops).href)) === 503, 2000), 'readiness turns 503 at once');
      assert.ok(await waitFor(async () => (await statusOf(new URL('/livez', c.url).href)) === -1, 2000), 'no new connection is accepted');
      const answers = await Promise.all(slow);
      for (const a of answers) {
        assert.equal(a.status, 200);
        assert.match(JSON.stringify(a.body.result), /Long running operation completed/);
      }
      assert.equal(await exited, 0);
      const done = (await events()).filter((e) => e.method === 'tools/call' && e.target === 'trigger-long-running-operation' && e.outcome !== 'intent');
      assert.deepEqual(done.map((e) => e.outcome), ['ok', 'ok', 'ok'], 'recorded as they ended, not as cancelled');
      assert.ok(done.every((e) => e.intentId));
    });

    test('a rolling restart of two replicas under load loses no stateless call and runs none twice', { timeout: 120_000 }, async () => {
      const replicas: (RunningWarden & { ops: string })[] = [await replica('roll-1'), await replica('roll-2')];
      for (const r of replicas) assert.equal((await call(r.url, 'echo', { message: 'warm-up' })).status, 200, 'the upstream is started');
      let stop = false;
      let next = 0;
      const results = new Map<string, Answer>();
      let retries = 0;
      const retried = new Map<string, string[]>();
      // A balancer's part: round robin over the replicas; a refused connection or a 503 is tried on the other
      // (neither ran the call: the listener was closed, or the refusal came before forwarding).
      const send = async (message: string): Promise<Answer> => {
        for (let attempt = 0; attempt < 40; attempt++) {
          const r = replicas[next++ % replicas.length]!;
          try {
            const a = await call(r.url, 'echo', { message }, 15_000);
            if (a.status !== 503) return a;
            retried.set(message, [...(retried.get(message) ?? []), '503']);
          } catch (err) {
            if ((err as Error).name === 'TimeoutError') throw err;
            const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
            retried.set(message, [...(retried.get(message) ?? []), cause]);
          }
          retries++;
          await new Promise((res) => setTimeout(res, 50));
        }
        throw new Error(`no replica took ${message}`);
      };
      const loops = Array.from({ length: 4 }, async (_, i) => {
        for (let j = 0; !stop; j++) results.set(`roll-${i}-${j}`, await send(`roll-${i}-${j}`));
      });
      await new Promise((r) => setTimeout(r, 1000));
      for (const k of [0, 1]) {
        const old = replicas[k]!;
        const exited = new Promise((r) => old.child.once('exit', r));
        old.child.kill('SIGTERM');
        await exited;
        replicas[k] = await replica(`roll-${k + 1}b`);
        await new Promise((r) => setTimeout(r, 800));
      }
      stop = true;
      await Promise.all(loops);
      assert.ok(results.size > 20, `calls made: ${results.size}`);
      for (const [message, a] of results) {
        assert.equal(a.status, 200, `${message}: ${JSON.stringify(a.body)}`);
        assert.equal((a.body.result?.content as { text: string }[] | undefined)?.[0]?.text, `Echo: ${message}`);
      }
      const ran = ranMessages(record).filter((m) => m.startsWith('roll-'));
      const twice = ran.filter((m, i) => ran.indexOf(m) !== i);
      assert.deepEqual(twice, [], `no call ran twice (retried: ${JSON.stringify(twice.map((m) => [m, retried.get(m)]))})`);
      assert.equal(ran.length, results.size, 'every call ran exactly once');
      const all = await events();
      const outcomes = all.filter((e) => e.method === 'tools/call' && e.outcome === 'ok' && e.intentId);
      for (const message of results.keys()) assert.equal(outcomes.filter((e) => e.argsDigest === echoDigest(message)).length, 1, `${message} recorded once`);
      assert.ok(retries >= 0);
    });
  });
}
