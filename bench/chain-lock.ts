// Lock wait on the audit chain with 3 gateway replicas on one PostgreSQL (issue 14 item 3).
//
//   WARDEN_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//     node --import tsx bench/chain-lock.ts [--warden PATH/bin/warden.js] [--seconds 15] [--clients 24] [--strict true|false]
//
// Starts 3 `warden serve` replicas (PATH: another build, e.g. the main branch's, for a before/after) on a fresh
// schema, one minimal HTTP upstream, and `clients` concurrent stateless tools/call loops spread over the
// replicas. Every 10 ms it samples pg_stat_activity and pg_locks for the replicas' connections: how many wait
// on an advisory lock (the chain lock), and whether the lock's holder is idle in transaction (waiting for
// its replica's next statement, i.e. holding the lock across a round trip). Prints one JSON line.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { ROOT, tsNodeArgs, WARDEN_JS } from './paths.js';
import { installExitHandlers, spawnChild, stopAll, waitForOutput } from './procs.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const wardenJs = path.resolve(arg('warden', WARDEN_JS));
const seconds = Number(arg('seconds', '15'));
const clients = Number(arg('clients', '24'));
const strict = arg('strict', '');
const base = process.env.WARDEN_BENCH_DATABASE_URL ?? process.env.WARDEN_TEST_DATABASE_URL;
if (!base) throw new Error('set WARDEN_BENCH_DATABASE_URL or WARDEN_TEST_DATABASE_URL');

const MODERN = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'chain-lock', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} };

async function call(url: string, message: string): Promise<boolean> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message }, _meta: META } }),
  });
  const text = await res.text();
  return res.status === 200 && text.includes('"result"');
}

const pct = (xs: number[], p: number): number => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!);

async function main(): Promise<void> {
  installExitHandlers();
  const schema = `warden_bench_${randomBytes(5).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-chain-lock-'));
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    const upstream = spawnChild('upstream', process.execPath, tsNodeArgs('minimal-upstream.ts'), { cwd: ROOT });
    const upstreamUrl = (await waitForOutput(upstream, /listening on (http:\/\/\S+)/, 20_000))[1]!;
    const policy = path.join(dir, 'allow.cedar');
    fs.writeFileSync(policy, 'permit(principal, action, resource);\n');
    const urls: string[] = [];
    for (let i = 0; i < 3; i++) {
      const u = new URL(base!);
      u.searchParams.set('schema', schema);
      u.searchParams.set('application_name', `warden-bench-${i}`);
      const config = {
        listen: '127.0.0.1:0', auth: { mode: 'none' }, store: u.href, log: { level: 'error' }, policy: { files: [policy] },
        ...(strict === '' ? {} : { audit: { strict: strict === 'true' } }),
        mcpServers: { up: { url: upstreamUrl } },
      };
      const file = path.join(dir, `r${i}.yaml`);
      fs.writeFileSync(file, stringify(config));
      const r = spawnChild(`replica-${i}`, process.execPath, [wardenJs, 'serve', '--config', file], { cwd: dir });
      urls.push((await waitForOutput(r, /listening on (http:\/\/\S+\/mcp)/, 30_000))[1]!);
    }
    for (const u of urls) await call(u, 'warm-up');

    const sampler = new pg.Client({ connectionString: base });
    await sampler.connect();
    const waiting: number[] = [];
    let holderSamples = 0;
    let holderIdle = 0;
    let sampling = true;
    const sample = (async () => {
      while (sampling) {
        const r = await sampler.query<{ waiting: string; holder_state: string | null }>(`
          SELECT (SELECT count(*) FROM pg_stat_activity a WHERE a.application_name LIKE 'warden-bench-%'
                    AND a.wait_event_type = 'Lock' AND a.wait_event = 'advisory') AS waiting,
                 (SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'warden-bench-%' LIMIT 1) AS holder_state`);
        waiting.push(Number(r.rows[0]!.waiting));
        const state = r.rows[0]!.holder_state;
        if (state !== null) {
          holderSamples++;
          if (state === 'idle in transaction') holderIdle++;
        }
        await new Promise((res) => setTimeout(res, 10));
      }
    })();

    const latencies: number[] = [];
    let ok = 0;
    let failed = 0;
    const end = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let j = 0; Date.now() < end; j++) {
          const t = performance.now();
          if (await call(urls[(c + j) % urls.length]!, `c${c}-${j}`).catch(() => false)) ok++;
          else failed++;
          latencies.push(performance.now() - t);
        }
      }),
    );
    sampling = false;
    await sample;
    await sampler.end();
    const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
    const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
    process.stdout.write(
      JSON.stringify({
        warden: path.relative(process.cwd(), wardenJs) || wardenJs,
        strict: strict === '' ? 'default' : strict,
        replicas: 3,
        clients,
        seconds,
        callsPerSecond: round(ok / seconds, 1),
        failed,
        latencyMs: { p50: round(pct(latencies, 50)), p99: round(pct(latencies, 99)) },
        lockWaitingMean: round(mean(waiting)),
        lockWaitingMax: Math.max(0, ...waiting),
        holderIdleInTransactionPct: holderSamples === 0 ? 0 : round((100 * holderIdle) / holderSamples, 1),
        samples: waiting.length,
      }) + '\n',
    );
  } finally {
    await stopAll();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
