// CPU time per `tools/call`: the gateway process's own CPU (utime + stime from /proc/<pid>/stat, children
// excluded) over a closed-loop run, divided by the calls answered in it; the minimal upstream's CPU per call
// in a direct run beside it. Far steadier than calls/s on a shared machine: other processes take wall-clock
// time from us, not CPU time.
// The gateway runs the full pipeline: JWT bearer auth (ES256, the token cached after its first verification),
// Cedar at 100 policies (starter pack + generated), strict hash-chained audit on SQLite (the default).
// Run alone: node --import tsx bench/cpu-per-call.ts [--profile --label=NAME] (writes bench/results/flamegraph-NAME.svg
// and profile-NAME.txt); env BENCH_CPU_SESSIONS, BENCH_CPU_INFLIGHT, BENCH_CPU_SECONDS, BENCH_WARDEN_JS (another build, for A/B),
// BENCH_CPU_CONFIG (JSON over the config's top level, for ablations), BENCH_CPU_FLOOR=0 (skip the floor proxy).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import YAML from 'yaml';
import { loadGatewayPolicy } from '../src/policy/index.js';
import type { ClosedLoopResult } from './load.js';
import { RESULTS_DIR, ROOT, WARDEN_JS } from './paths.js';
import { generated } from './policy-gateway.js';
import { installExitHandlers, spawnChild, stopAll, stopChild, waitForOutput } from './procs.js';
import { runLoad } from './run-load.js';
import { makeTmpDir, startFloorProxy, startMinimalUpstream, writeMasterKey, type Target } from './targets.js';
import { writeFlameGraph } from './flamegraph.js';

export interface CpuRun {
  calls: number;
  cpuMs: number;
  usPerCall: number;
  callsPerSec: number;
}

export interface CpuPerCall {
  sessions: number;
  inflightPerSession: number;
  durationMs: number;
  /** The minimal upstream's own CPU per call, called directly. */
  upstream?: CpuRun;
  /** The gateway's own CPU per call (full pipeline); the upstream's share is not in it. */
  gateway?: CpuRun;
  /** The floor: a bare node:http forwarding proxy (floor-proxy.ts), with no record and with two SQLite commits per call. */
  floor?: { proxy?: CpuRun; proxyTwoCommits?: CpuRun };
  policies?: number;
  /** Whether the process under test had a core of its own (see PIN). */
  pinned?: boolean;
  profile?: { cpuprofile: string; svg: string; top: { fn: string; selfPct: number }[] };
  error?: string;
}

/**
 * On a machine with two or more cores, the process under test gets the last core to itself and everything else
 * (this process, the load generators it starts, the other servers) shares the rest: the scheduler then moves
 * nothing between them, and CPU per call is far steadier than with all of them on every core. BENCH_CPU_PIN=0 turns it off.
 */
const CORES = os.availableParallelism();
const PIN = CORES >= 2 && process.env.BENCH_CPU_PIN !== '0' && spawnSync('taskset', ['-V']).status === 0;
const MEASURED_CORE = String(CORES - 1), OTHER_CORES = `0-${CORES - 2}`;

/** Sets the CPU affinity of every thread of `pid` (a no-op where pinning is off). */
function pin(pid: number | undefined, cores: string): void {
  if (PIN && pid !== undefined) spawnSync('taskset', ['-p', '-c', cores, String(pid)], { stdio: 'ignore' });
}

const CLK_TCK = 100; // Linux USER_HZ on every platform Node supports

/** utime + stime of one process, in ms (its children not included). */
export function processCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

const AUDIENCE = 'http://127.0.0.1/mcp';
const ISSUER = 'https://idp.bench';
const STARTER_FILE = path.join(ROOT, 'policies', 'starter', 'starter.cedar');

/** Writes the JWKS, the policies and the config of a full-pipeline gateway; returns the config file and a bearer token. */
async function fullPipelineConfig(dir: string, upstreamUrl: string): Promise<{ file: string; token: string; policies: number }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  const token = await new SignJWT({ scope: 'mcp', client_id: 'bench-agent', tenant: 'bench' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER).setSubject('bench-user').setAudience(AUDIENCE)
    .setIssuedAt().setExpirationTime('2h').setJti('bench-1')
    .sign(privateKey);
  const starter = fs.readFileSync(STARTER_FILE, 'utf8');
  const starterCount = loadGatewayPolicy({ sources: [{ name: 'starter.cedar', text: starter }] }).policies.length;
  fs.writeFileSync(path.join(dir, 'generated.cedar'), generated(100 - starterCount));
  const config = {
    listen: '127.0.0.1:0',
    publicUrl: AUDIENCE,
    store: path.join(dir, 'warden.db'),
    vault: { masterKeyFile: writeMasterKey(dir) },
    auth: { mode: 'oauth', issuers: [{ issuer: ISSUER, jwksFile: 'jwks.json', algorithms: ['ES256'], tenantClaim: 'tenant' }], requiredScopes: ['mcp'] },
    policy: { files: [STARTER_FILE, 'generated.cedar'], watch: false },
    mcpServers: { bench: { url: upstreamUrl, tenant: 'bench', tools: { '*': { access: 'read', destructive: false } } } },
  };
  // BENCH_CPU_CONFIG: JSON merged over the config's top level, for ablations (e.g. {"audit":{"strict":false}}).
  const extra = process.env.BENCH_CPU_CONFIG ? (JSON.parse(process.env.BENCH_CPU_CONFIG) as Record<string, unknown>) : {};
  const file = path.join(dir, 'warden.yaml');
  fs.writeFileSync(file, YAML.stringify({ ...config, ...extra }));
  return { file, token, policies: 100 };
}

async function measured(pid: number, run: () => Promise<ClosedLoopResult>): Promise<CpuRun> {
  pin(pid, MEASURED_CORE);
  const before = processCpuMs(pid);
  const r = await run();
  const cpuMs = processCpuMs(pid) - before;
  if (r.errors > 0) throw new Error(`${r.errors} calls failed (first: ${r.firstError ?? 'n/a'})`);
  return { calls: r.allCalls, cpuMs, usPerCall: Math.round((cpuMs * 1000 / r.allCalls) * 10) / 10, callsPerSec: r.callsPerSec };
}

/** CPU per call of the floor proxy in front of the upstream, with `commits` SQLite commits per call. */
async function measureFloor(upstreamUrl: string, commits: number, dir: string, spec: (url: string) => Parameters<typeof runLoad>[0]): Promise<CpuRun> {
  const floor = await startFloorProxy(upstreamUrl, commits, path.join(dir, `floor-${commits}.db`));
  try {
    return await measured(floor.child.proc.pid as number, () => runLoad(spec(floor.url), `cpu floor ${commits}`));
  } finally {
    await stopChild(floor.child);
  }
}

export async function measureCpuPerCall(opts: { sessions: number; inflight: number; durationMs: number; profileDir?: string }): Promise<CpuPerCall> {
  const out: CpuPerCall = { sessions: opts.sessions, inflightPerSession: opts.inflight, durationMs: opts.durationMs };
  const tmp = makeTmpDir();
  let upstream: Target | undefined;
  let gateway: ReturnType<typeof spawnChild> | undefined;
  let profileFromUs = 0;
  try {
    upstream = await startMinimalUpstream();
    const spec = (url: string, headers?: Record<string, string>) => ({
      mode: 'closed' as const, url, tool: 'echo', args: { message: 'hi' }, sessions: opts.sessions, inflight: opts.inflight,
      warmupMs: 1000, durationMs: opts.durationMs, ...(headers ? { headers } : {}),
    });
    const upPid = upstream.child.proc.pid as number;
    out.pinned = PIN;
    pin(process.pid, OTHER_CORES); // the load generators started from here inherit it
    out.upstream = await measured(upPid, () => runLoad(spec(upstream!.url), 'cpu direct'));
    pin(upPid, OTHER_CORES); // from here on the upstream is the other side, not the process under test
    if (process.env.BENCH_CPU_FLOOR !== '0') out.floor = { proxy: await measureFloor(upstream.url, 0, tmp, spec), proxyTwoCommits: await measureFloor(upstream.url, 2, tmp, spec) };
    const { file, token, policies } = await fullPipelineConfig(tmp, upstream.url);
    out.policies = policies;
    const prof = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [];
    gateway = spawnChild('mcp-warden (cpu)', process.execPath, [...prof, process.env.BENCH_WARDEN_JS ?? WARDEN_JS, 'serve', '--config', file], { cwd: tmp });
    const m = await waitForOutput(gateway, /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/, 20_000);
    const url = m[1] as string;
    const gwPid = gateway.proc.pid as number;
    // The profile shows the calls only: samples from start-up are left out of the flame graph.
    profileFromUs = Number(process.hrtime.bigint() / 1000n);
    out.gateway = await measured(gwPid, () => runLoad(spec(url, { Authorization: `Bearer ${token}` }), 'cpu gateway'));
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
  } finally {
    if (gateway) await stopChild(gateway, 10_000);
    if (upstream) await stopChild(upstream.child);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (opts.profileDir) {
    const prof = fs.readdirSync(opts.profileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(opts.profileDir as string, f));
    const newest = prof.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
    if (newest) {
      const svg = newest.replace(/\.cpuprofile$/, '.svg');
      const top = writeFlameGraph(newest, svg, `mcp-warden, tools/call echo, full pipeline, ${opts.sessions} x ${opts.inflight}`, profileFromUs);
      out.profile = { cpuprofile: newest, svg, top: top.slice(0, 15) };
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  installExitHandlers();
  const profile = process.argv.includes('--profile');
  const label = process.argv.find((a) => a.startsWith('--label='))?.slice(8) ?? 'current';
  const dir = path.join(RESULTS_DIR, 'profile-tmp');
  if (profile) fs.mkdirSync(dir, { recursive: true });
  const sessions = Number(process.env.BENCH_CPU_SESSIONS ?? 8), inflight = Number(process.env.BENCH_CPU_INFLIGHT ?? 1);
  const r = await measureCpuPerCall({ sessions, inflight, durationMs: Number(process.env.BENCH_CPU_SECONDS ?? 8) * 1000, ...(profile ? { profileDir: dir } : {}) });
  if (r.profile) {
    // Keep one named profile per label in bench/results (e.g. before / after).
    const svg = path.join(RESULTS_DIR, `flamegraph-${label}.svg`);
    fs.renameSync(r.profile.svg, svg);
    fs.writeFileSync(path.join(RESULTS_DIR, `profile-${label}.txt`), r.profile.top.map((t) => `${t.selfPct.toFixed(1).padStart(5)} %  ${t.fn}`).join('\n') + '\n');
    if (process.env.BENCH_KEEP_PROFILE) fs.copyFileSync(r.profile.cpuprofile, process.env.BENCH_KEEP_PROFILE);
    fs.rmSync(dir, { recursive: true, force: true });
    r.profile = { ...r.profile, cpuprofile: '(removed)', svg };
  }
  console.log(JSON.stringify(r, null, 2));
  await stopAll();
}
