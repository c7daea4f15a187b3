// Throughput with 1, 2 and 3 gateway replicas behind nginx (round robin, one PostgreSQL) vs the upstream
// alone, in one run (issue 14). Full pipeline as deployed: strict audit (intent + outcome) on PostgreSQL, a
// permit-all policy, auth off; stateless (2026-07-28) `tools/call echo` in closed loops.
//
//   WARDEN_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//     node --import tsx bench/replicas.ts [--seconds 8] [--clients 24] [--warmup 1]
//
// Writes bench/results/replicas.json and prints the table. Each leg also says where the CPU went over its
// measured window (bench/fleet-cpu.ts): CPU µs per call of the replicas (summed), nginx, the upstream, the
// PostgreSQL processes (the replicas' backends and the server's own) and the client (this process); how busy
// the machine was (/proc/stat, every tenant included) and which share of it those processes took ("ours");
// how long the replicas' event loops were runnable but waiting for a core (% of their runnable time); the
// mean number of replica connections waiting on the audit chain lock (pg_stat_activity, every 100 ms); the
// audit events per append statement (each replica batches what queued while its previous append was in
// flight: fewer clients per replica, smaller batches, more statements per call); and the replicas' CPU while
// idle just before the load (ms/s: timers, a fixed cost per replica).
//
// How to read it. On a machine with fewer cores than replicas, every replica shares the cores with nginx,
// PostgreSQL, the upstream and the client, and calls/s ≈ cores × 10^6 × ours % / (all µs per call): CPU
// time, not waiting, sets it. If the machine is ~100 % busy, the replicas often wait for a core and few
// connections wait on the chain lock, throughput is bounded by cores; if the replicas' CPU per call also
// stays roughly flat from 1 to 3 replicas, a host with a core per replica (PostgreSQL and nginx on their own)
// would see it grow with replicas. If the replicas' CPU per call rises steeply, something costs more per call
// as replicas are added: compare with nginx and the upstream, whose work per call does not depend on the
// replicas (if they rise too, part of it is the crowded machine: context switches, cold caches), and with
// events per append (smaller batches, more statements per call; `--clients` shows the same at one replica).
// If the machine is far from busy while calls/s falls, something serialises and waits: the chain-lock column
// says whether it is that lock.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { NGINX, nginxConfig } from '../test/helpers/nginx.js';
import { idleCpuMsPerSecond, startLegMeter, type LegCpu, type LegMeter } from './fleet-cpu.js';
import { McpHttpSession } from './mcp-http-client.js';
import { RESULTS_DIR, ROOT, tsNodeArgs, WARDEN_JS } from './paths.js';
import { freePort, installExitHandlers, spawnChild, stopAll, stopChild, waitForOutput, type Child } from './procs.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const seconds = Number(arg('seconds', '8'));
const warmupSeconds = Number(arg('warmup', '1'));
const clients = Number(arg('clients', '24'));
const base = process.env.WARDEN_BENCH_DATABASE_URL ?? process.env.WARDEN_TEST_DATABASE_URL;
if (!base) throw new Error('set WARDEN_BENCH_DATABASE_URL or WARDEN_TEST_DATABASE_URL');
if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} is missing (apt-get install nginx-light)`);

const MODERN = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'replicas', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} };
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'echo' };

// node:http with keep-alive, not fetch: fetch cost this client 620-860 µs of CPU per call through nginx, a
// quarter of a 2-core machine taken from the fleet being measured.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function call(url: string, message: string): Promise<boolean> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message }, _meta: META } });
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, headers: { ...HEADERS, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(res.statusCode === 200 && text.includes('"result"')));
      res.on('error', () => resolve(false));
    });
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

interface Leg {
  leg: string; replicas: number; callsPerSecond: number; failed: number; p50Ms: number; p99Ms: number; cpu: LegCpu;
  /** The replicas' CPU (summed) while idle, before the load, in ms/s. */
  replicasIdleMsPerSecond?: number;
}

/** Replicas connect as `${APP}<n>-<i>`, so their backends can be told from the rest of the server's. */
const APP = 'warden-replicas-r';

const pct = (xs: number[], p: number): number => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!);
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

type Caller = (message: string) => Promise<boolean>;

/** A 2025-11-25 session per client (the minimal upstream speaks only sessions). */
async function sessionCaller(url: string): Promise<Caller> {
  const s = new McpHttpSession(url, 2);
  await s.initialize(15_000);
  return async (message) => {
    const r = await s.request('tools/call', { name: 'echo', arguments: { message } }, 15_000);
    return r.result !== undefined && r.error === undefined;
  };
}

/** `clients` closed loops for `seconds` after a `warmupSeconds` warm-up; `callerFor` makes each client's caller; `meter` measures CPU after the warm-up. */
async function load(leg: string, replicas: number, callerFor: () => Promise<Caller>, meter: () => Promise<LegMeter>): Promise<Leg> {
  const callers = await Promise.all(Array.from({ length: clients }, () => callerFor()));
  const warm = Date.now() + warmupSeconds * 1000;
  await Promise.all(callers.map(async (send) => { while (Date.now() < warm) await send('warm').catch(() => false); }));
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const cpu = await meter();
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    callers.map(async (send, c) => {
      for (let j = 0; Date.now() < end; j++) {
        const t = performance.now();
        if (await send(`c${c}-${j}`).catch(() => false)) ok++;
        else failed++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { leg, replicas, callsPerSecond: round(ok / seconds, 1), failed, p50Ms: round(pct(latencies, 50)), p99Ms: round(pct(latencies, 99)), cpu: await cpu.stop(ok + failed) };
}

interface Fleet { url: string; replicas: number[]; nginx: number }

/** `n` replicas on one schema behind a fresh nginx; returns nginx's URL and the processes. */
async function startFleet(dir: string, n: number, upstreamUrl: string, schema: string, children: Child[]): Promise<Fleet> {
  const policy = path.join(dir, 'allow.cedar');
  fs.writeFileSync(policy, 'permit(principal, action, resource);\n');
  const key = path.join(dir, 'master.key');
  if (!fs.existsSync(key)) fs.writeFileSync(key, randomBytes(32).toString('base64'), { mode: 0o600 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mcp`;
  const ports: number[] = [];
  const replicas: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = new URL(base!);
    u.searchParams.set('schema', schema);
    u.searchParams.set('application_name', `${APP}${n}-${i}`);
    const own = await freePort();
    const config = {
      // The balancer passes the client's Host on: the replicas' public URL is the balancer's.
      listen: `127.0.0.1:${own}`, publicUrl: url, auth: { mode: 'none' }, store: u.href, log: { level: 'error' }, policy: { files: [policy] },
      vault: { masterKeyFile: key }, mcpServers: { up: { url: upstreamUrl } },
    };
    const file = path.join(dir, `n${n}-r${i}.yaml`);
    fs.writeFileSync(file, stringify(config));
    const r = spawnChild(`replica-${n}-${i}`, process.execPath, [WARDEN_JS, 'serve', '--config', file], { cwd: dir });
    children.push(r);
    await waitForOutput(r, /listening on (http:\/\/\S+\/mcp)/, 30_000);
    ports.push(own);
    replicas.push(r.proc.pid!);
  }
  const nginxDir = path.join(dir, `nginx-${n}`);
  fs.mkdirSync(nginxDir);
  const conf = path.join(nginxDir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConfig(nginxDir, port, ports));
  const nginx = spawnChild(`nginx-${n}`, NGINX, ['-p', nginxDir, '-c', conf], { cwd: nginxDir });
  children.push(nginx);
  for (let i = 0; i < 100 && !(await call(url, 'up').catch(() => false)); i++) await new Promise((r) => setTimeout(r, 100));
  return { url, replicas, nginx: nginx.proc.pid! };
}

async function main(): Promise<void> {
  installExitHandlers();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-replicas-'));
  const admin = new pg.Client({ connectionString: base, application_name: 'warden-replicas-meter' });
  await admin.connect();
  const schemas: string[] = [];
  try {
    const upstream = spawnChild('upstream', process.execPath, tsNodeArgs('minimal-upstream.ts'), { cwd: ROOT });
    const upstreamUrl = (await waitForOutput(upstream, /listening on (http:\/\/\S+)/, 20_000))[1]!;
    const upstreamPid = upstream.proc.pid!;
    const legs: Leg[] = [await load('upstream alone', 0, () => sessionCaller(upstreamUrl), () => startLegMeter({ replicas: [], upstream: upstreamPid, admin, appPrefix: APP }))];
    for (const n of [1, 2, 3]) {
      const schema = `warden_bench_${randomBytes(5).toString('hex')}`;
      schemas.push(schema);
      const children: Child[] = [];
      const fleet = await startFleet(dir, n, upstreamUrl, schema, children);
      const idle = await idleCpuMsPerSecond(fleet.replicas);
      const meter = (): Promise<LegMeter> => startLegMeter({ replicas: fleet.replicas, nginx: fleet.nginx, upstream: upstreamPid, admin, appPrefix: APP, schema });
      legs.push({ ...(await load(`${n} replica${n > 1 ? 's' : ''} behind nginx`, n, async () => (message) => call(fleet.url, message), meter)), replicasIdleMsPerSecond: idle });
      await Promise.all(children.map((c) => stopChild(c, 3000)));
    }
    await stopChild(upstream, 2000);
    const result = { at: new Date().toISOString(), cores: os.cpus().length, clients, seconds, warmupSeconds, legs };
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, 'replicas.json'), JSON.stringify(result, null, 2) + '\n');
    const cell = (x: number | null): string => (x === null ? '-' : String(x));
    const lines = [
      '| leg | calls/s | vs upstream alone | p50 ms | p99 ms | failed | replicas µs/call | nginx µs/call | upstream µs/call | PG µs/call | client µs/call | all µs/call | machine busy % | ours % | replicas wait for a core % | chain-lock waiters (mean) | events per append | replicas idle ms/s |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ];
    for (const l of legs) {
      const c = l.cpu;
      lines.push(`| ${l.leg} | ${l.callsPerSecond} | ${round((100 * l.callsPerSecond) / legs[0]!.callsPerSecond, 1)} % | ${l.p50Ms} | ${l.p99Ms} | ${l.failed} | ` +
        `${cell(c.replicasUsPerCall)} | ${cell(c.nginxUsPerCall)} | ${c.upstreamUsPerCall} | ${cell(c.postgresUsPerCall)} | ${c.clientUsPerCall} | ${c.allUsPerCall} | ` +
        `${c.machineBusyPct} | ${c.oursPct} | ${cell(c.replicasWaitForCorePct)} | ${cell(c.lockWaitingMean)} | ${cell(c.eventsPerAppend)} | ${cell(l.replicasIdleMsPerSecond ?? null)} |`);
    }
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await stopAll();
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
    await admin.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
