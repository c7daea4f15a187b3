// Report structure, target evaluation, and the JSON + Markdown writers.
import type { IntegrityOverhead } from './integrity.js';
import type { AuditThroughput } from './audit-throughput.js';
import type { AuthCost } from './auth-cost.js';
import type { CpuPerCall } from './cpu-per-call.js';
import type { PolicyLatency } from './policy-latency.js';
import type { GatewayDecideRow } from './policy-gateway.js';
import type { RevocationPropagation } from './revocation.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CpuShare } from './contention.js';
import type { ClosedLoopResult, OpenLoopResult } from './load.js';

export interface Machine {
  date: string;
  cpuModel: string;
  cores: number;
  nodeVersion: string;
  platform: string;
  arch: string;
  totalMemGiB: number;
  /** os.loadavg() (1, 5, 15 min) when the run started and ended. */
  loadAvgStart: number[];
  loadAvgEnd?: number[];
  /** Share of all cores busy during 1 s just before the run (other processes on the machine). */
  busyBeforeStartPct: number;
  /** CPU used by this benchmark vs. other processes over the whole run. */
  cpuDuringRun?: CpuShare;
}

export interface TargetCheck {
  name: string;
  goal: string;
  value: number | null;
  unit: string;
  /** null when not measured (e.g. the gateway could not be started). */
  met: boolean | null;
  /** The same measure for the floor proxy (bench/floor-proxy.ts: forwards and nothing else), where there is one. */
  floor?: number | null;
}

export interface GatewayOverhead {
  upstream: string;
  /** CPU share of other processes while this section ran. */
  cpu?: CpuShare;
  gatewaySkipped?: string;
  openLoop: {
    rate: number;
    sessions: number;
    blockMs: number;
    warmupMs: number;
    durationMs: number;
    direct?: OpenLoopResult;
    gateway?: OpenLoopResult;
    addedP50Ms?: number;
    addedP99Ms?: number;
    /** Same, computed from service time (actual send -> response), for reference. */
    addedServiceP50Ms?: number;
    addedServiceP99Ms?: number;
  };
  closedLoop: { warmupMs: number; durationMs: number };
  /** Closed loops at 1 x 1, 8 x 1 and 8 x 4 (sessions x calls in flight each). */
  closed: ClosedLeg[];
}

/** A closed-loop result with the measured process's own CPU time per answered call. */
export type MeteredResult = ClosedLoopResult & { cpuUsPerCall?: number };

export interface ClosedLeg {
  sessions: number;
  inflightPerSession: number;
  direct?: MeteredResult;
  gateway?: MeteredResult;
  /** The floor proxy (bench/floor-proxy.ts) in front of the same upstream: what forwarding alone costs. */
  floor?: MeteredResult;
  /** gateway calls/s over direct calls/s */
  ratio?: number;
  /** gateway p50 minus direct p50 */
  addedP50Ms?: number;
  /** The same two for the floor proxy. */
  floorRatio?: number;
  floorAddedP50Ms?: number;
}

export interface PeerResult {
  name: string;
  flags: string;
  /** One result per concurrency (run.ts peerShapes), in order. */
  shapes: MeteredResult[];
  error?: string;
  cpu?: CpuShare;
}

export interface BenchReport {
  machine: Machine;
  gatewayOverhead: GatewayOverhead;
  peers: {
    upstream: string;
    tool: string;
    warmupMs: number;
    durationMs: number;
    results: PeerResult[];
  };
  targets: TargetCheck[];
  notes: string[];
  totalRuntimeSec: number;
  // Sections for later; deliberately absent until they are really measured.
  cpuPerCall?: CpuPerCall;
  authenticationCost?: AuthCost;
  policyDecisionLatency?: PolicyLatency;
  gatewayDecide?: GatewayDecideRow[];
  auditThroughput?: AuditThroughput;
  revocationPropagation?: RevocationPropagation;
  integrityOverhead?: IntegrityOverhead;
}

function cpuTicks(): { idle: number; total: number } {
  let idle = 0, total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** Percentage of all cores busy over sampleMs. */
export async function busyPct(sampleMs = 1000): Promise<number> {
  const a = cpuTicks();
  await new Promise((r) => setTimeout(r, sampleMs));
  const b = cpuTicks();
  const total = b.total - a.total;
  return total > 0 ? Math.round((1 - (b.idle - a.idle) / total) * 1000) / 10 : 0;
}

export async function machineInfo(): Promise<Machine> {
  const cpus = os.cpus();
  const loadAvgStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const busyBeforeStartPct = await busyPct();
  return {
    date: new Date().toISOString(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    nodeVersion: process.version,
    platform: os.platform(),
    arch: os.arch(),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAvgStart,
    busyBeforeStartPct,
  };
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export function evaluateTargets(g: GatewayOverhead, cpu: CpuPerCall, peers: PeerResult[]): TargetCheck[] {
  const num = (x: number | undefined): number | null => (x === undefined || Number.isNaN(x) ? null : r3(x));
  const check = (name: string, goal: string, value: number | undefined, unit: string, ok: (v: number) => boolean, floor?: number): TargetCheck => ({
    name, goal, value: num(value), unit, met: value === undefined || Number.isNaN(value) ? null : ok(value), ...(floor === undefined ? {} : { floor: num(floor) }),
  });
  const leg = (s: number, i: number) => g.closed.find((l) => l.sessions === s && l.inflightPerSession === i);
  const pct = (x: number | undefined) => (x === undefined ? undefined : x * 100);
  const one = leg(1, 1);
  const peer = (name: string, k: number) => peers.find((p) => p.name === name)?.shapes[k];
  const vsProxy = (k: number) => {
    const w = peer('mcp-warden', k), m = peer('mcp-proxy', k);
    return w && m && m.callsPerSec > 0 ? w.callsPerSec / m.callsPerSec : undefined;
  };
  const upCpu = cpu.upstream?.usPerCall;
  return [
    check(`warden CPU per tools/call, full pipeline (JWT, ${cpu.policies ?? 100} policies, strict audit), ${cpu.sessions} x ${cpu.inflightPerSession}; minimal upstream: ${upCpu ?? '–'} µs`, '<= 150 µs', cpu.gateway?.usPerCall, 'µs', (v) => v <= 150, cpu.floor?.proxy?.usPerCall),
    check(`throughput vs direct, 8 x 1 (direct ${leg(8, 1)?.direct?.callsPerSec ?? '–'}/s)`, '>= 35 %', pct(leg(8, 1)?.ratio), '%', (v) => v >= 35, pct(leg(8, 1)?.floorRatio)),
    check(`throughput vs direct, 8 x 4 (direct ${leg(8, 4)?.direct?.callsPerSec ?? '–'}/s)`, '>= 50 %', pct(leg(8, 4)?.ratio), '%', (v) => v >= 50, pct(leg(8, 4)?.floorRatio)),
    check(`added p50 at one session, one call in flight (direct p50 ${one?.direct?.latency.p50Ms ?? '–'} ms)`, '<= 0.3 ms', one?.addedP50Ms, 'ms', (v) => v <= 0.3, one?.floorAddedP50Ms),
    check(`p99 added latency @ ${g.openLoop.rate}/s (direct p99 ${g.openLoop.direct?.latency.p99Ms ?? '–'} ms)`, '<= 2 ms', g.openLoop.addedP99Ms, 'ms', (v) => v <= 2),
    check(`p50 added latency @ ${g.openLoop.rate}/s, open loop`, '<= 0.5 ms', g.openLoop.addedP50Ms, 'ms', (v) => v <= 0.5),
    check(`stdio: warden / mcp-proxy calls/s, 8 x 1 (mcp-proxy ${peer('mcp-proxy', 0)?.callsPerSec ?? '–'}/s)`, '>= 1.5x', vsProxy(0), 'x', (v) => v >= 1.5),
    check(`stdio: warden / mcp-proxy calls/s, 8 x 4 (mcp-proxy ${peer('mcp-proxy', 1)?.callsPerSec ?? '–'}/s)`, '>= 1.5x', vsProxy(1), 'x', (v) => v >= 1.5),
  ];
}

const f = (x: number | undefined, digits = 3): string => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
const status = (met: boolean | null): string => (met === null ? 'not measured' : met ? 'met' : 'NOT met');

export function toMarkdown(rep: BenchReport): string {
  const m = rep.machine;
  const g = rep.gatewayOverhead;
  const o = g.openLoop;
  const L: string[] = [];
  L.push('# mcp-warden benchmark', '');
  L.push(`${m.date} · ${m.cpuModel} · ${m.cores} cores · Node ${m.nodeVersion} · ${m.platform}/${m.arch} · ${m.totalMemGiB} GiB · run took ${rep.totalRuntimeSec} s`, '');
  L.push(`Machine before the run: ${m.busyBeforeStartPct} % CPU busy, load average ${m.loadAvgStart.join(' / ')}.${m.cpuDuringRun ? ` During the run: this benchmark used ${m.cpuDuringRun.oursPct} % and other processes ${m.cpuDuringRun.othersPct} % of the machine's CPU capacity (steal ${m.cpuDuringRun.stealPct} %).` : ''}`, '');

  L.push('## Targets', '', '| Target | Goal | Measured | Status | Floor proxy |', '|---|---|---|---|---|');
  const shown = (v: number | null | undefined, unit: string): string => (v === null || v === undefined ? '–' : `${v} ${unit}`);
  for (const t of rep.targets) L.push(`| ${t.name} | ${t.goal} | ${shown(t.value, t.unit)} | ${status(t.met)} | ${shown(t.floor, t.unit)} |`);
  L.push('', 'Floor proxy: bench/floor-proxy.ts, a bare node:http proxy that parses each body and forwards it with a keep-alive agent (no auth, no policy, no audit). It is what forwarding alone costs in Node.js on this machine: a target beyond the floor cannot be met by any Node.js gateway here.', '');

  L.push(`## Gateway overhead: \`tools/call\` through mcp-warden vs. direct`, '', `Upstream: ${g.upstream}.`, '');
  if (g.gatewaySkipped) L.push(`> Gateway legs skipped: ${g.gatewaySkipped}`, '');
  if (g.cpu) L.push(`Other processes used ${g.cpu.othersPct} % of the machine's CPU capacity during this section.`, '');
  L.push(`### Open loop, ${o.rate} calls/s, ${o.sessions} sessions per leg, ${o.durationMs / 1000} s per leg (+${o.warmupMs / 1000} s warm-up), legs alternating every ${o.blockMs / 1000} s`, '');
  L.push('Latency is measured from the scheduled send time (no coordinated omission); service time from the actual send.', '');
  L.push('| Leg | achieved/s | ok | errors | timeouts | p50 ms | p90 ms | p99 ms | max ms | service p50 | service p99 | dispatch lag p50/p99 |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [name, r] of [['direct', o.direct], ['gateway', o.gateway]] as const) {
    if (!r) { L.push(`| ${name} | – | – | – | – | – | – | – | – | – | – | – |`); continue; }
    L.push(`| ${name} | ${r.achievedRate} | ${r.ok} | ${r.errors} | ${r.timedOut} | ${f(r.latency.p50Ms)} | ${f(r.latency.p90Ms)} | ${f(r.latency.p99Ms)} | ${f(r.latency.maxMs)} | ${f(r.serviceTime.p50Ms)} | ${f(r.serviceTime.p99Ms)} | ${f(r.dispatchLag.p50Ms)} / ${f(r.dispatchLag.p99Ms)} |`);
  }
  L.push(`| **added** | | | | | **${f(o.addedP50Ms)}** | | **${f(o.addedP99Ms)}** | | ${f(o.addedServiceP50Ms)} | ${f(o.addedServiceP99Ms)} | |`, '');

  L.push(`### Closed loops (${g.closedLoop.durationMs / 1000} s each, +${g.closedLoop.warmupMs / 1000} s warm-up)`, '');
  L.push('CPU µs/call: the measured process\'s own CPU time (utime + stime from /proc) over the run divided by the calls it answered: the upstream for direct legs, the gateway alone for gateway legs.', '');
  L.push('| Sessions x in flight | Leg | calls/s | p50 ms | p99 ms | CPU µs/call | errors |', '|---|---|---|---|---|---|---|');
  for (const l of g.closed) {
    for (const [name, r] of [['direct', l.direct], ['floor proxy', l.floor], ['gateway', l.gateway]] as const) {
      L.push(r ? `| ${l.sessions} x ${l.inflightPerSession} | ${name} | ${r.callsPerSec} | ${f(r.latency.p50Ms)} | ${f(r.latency.p99Ms)} | ${r.cpuUsPerCall ?? '–'} | ${r.errors} |` : `| ${l.sessions} x ${l.inflightPerSession} | ${name} | – | – | – | – | – |`);
    }
    L.push(`| ${l.sessions} x ${l.inflightPerSession} | **gateway / direct** | **${l.ratio === undefined ? '–' : `${(l.ratio * 100).toFixed(1)} %`}** | added ${f(l.addedP50Ms)} | | | |`);
    if (l.floorRatio !== undefined) L.push(`| ${l.sessions} x ${l.inflightPerSession} | floor proxy / direct | ${(l.floorRatio * 100).toFixed(1)} % | added ${f(l.floorAddedP50Ms)} | | | |`);
  }
  L.push('');
  const cp = rep.cpuPerCall;
  if (cp) {
    L.push(`## CPU per \`tools/call\`, full pipeline (${cp.sessions} sessions x ${cp.inflightPerSession} in flight, ${cp.durationMs / 1000} s)`, '');
    L.push(`The gateway with JWT bearer auth (ES256, token cached after its first verification), Cedar at ${cp.policies ?? 100} policies (starter pack + generated) and strict hash-chained audit on SQLite; the minimal upstream called directly beside it. CPU time is the process's own utime + stime (/proc/<pid>/stat) over the run, divided by the calls answered: far steadier than calls/s on a shared machine, though cache and scheduler contention still move it.`, '');
    if (cp.error) L.push(`> Not fully measured: ${cp.error.split('\n')[0]}`, '');
    if (cp.pinned) L.push('The process under test had a core of its own; everything else shared the others.', '');
    L.push('| Process | calls | CPU ms | CPU µs/call | calls/s |', '|---|---|---|---|---|');
    const rows = [['minimal upstream (direct)', cp.upstream], ['floor proxy (forwards only)', cp.floor?.proxy], ['floor proxy + two SQLite commits per call', cp.floor?.proxyTwoCommits], ['mcp-warden (full pipeline)', cp.gateway]] as const;
    for (const [name, r] of rows) {
      L.push(r ? `| ${name} | ${r.calls} | ${r.cpuMs} | ${r.usPerCall} | ${r.callsPerSec} |` : `| ${name} | – | – | – | – |`);
    }
    L.push('');
  }

  const a = rep.authenticationCost;
  if (a) {
    L.push('## Authentication cost per request (in-process, the gateway\'s own authenticator)', '');
    L.push('ES256 access tokens from a trusted issuer whose keys are loaded (cached JWKS); microseconds.', '');
    L.push('| Path | p50 µs | p90 µs | p99 µs | n |', '|---|---|---|---|---|');
    for (const [name, r] of [['unauthenticated (auth.mode none)', a.unauthenticatedUs], ['token seen before (verified-token cache)', a.cachedTokenUs], ['first verification of a token', a.firstVerificationUs]] as const) {
      L.push(`| ${name} | ${f(r.p50Ms)} | ${f(r.p90Ms)} | ${f(r.p99Ms)} | ${r.count} |`);
    }
    L.push(`| **added per request, p50** | **${a.addedP50Us}** | | | |`, '');
  }

  const pl = rep.policyDecisionLatency;
  if (pl) {
    L.push('## Policy decision latency (in-process; compiled Cedar vs cedar-wasm stateful)', '');
    L.push('| Policies | compiled p50 µs | compiled p99 µs | cedar-wasm p50 µs | cedar-wasm p99 µs | speed-up | fallback policies | agree |', '|---|---|---|---|---|---|---|---|');
    for (const r of pl.rows) L.push(`| ${r.policies} | ${r.compiledUs.p50Us} | ${r.compiledUs.p99Us} | ${r.cedarStatefulUs.p50Us} | ${r.cedarStatefulUs.p99Us} | ${r.speedup}x | ${r.fallbackPolicies} | ${r.agrees ? 'yes' : '**NO**'} |`);
    const lf = pl.listFilter;
    L.push('', `Filtering a ${lf.tools}-tool list at ${lf.policies} policies (${lf.allowed} allowed): one batch ${lf.compiledBatchMs.p50Ms} ms p50, ${lf.tools} separate decisions ${lf.compiledSeparateMs.p50Ms} ms p50, cedar-wasm ${lf.cedarStatefulMs.p50Ms} ms p50.`, '');
  }
  if (rep.gatewayDecide) {
    L.push('## The gateway decide step (in-process; starter pack + generated policies)', '');
    L.push('Each decision builds the Cedar request from the caller and the tool, reads the arguments and consults the approval set, as a call does.', '');
    L.push('| Policies | decide p50 µs | decide p99 µs | tools/list filter over 500 tools, p50 ms | tools shown |', '|---|---|---|---|---|');
    for (const r of rep.gatewayDecide) L.push(`| ${r.policies} | ${r.decideP50Us} | ${r.decideP99Us} | ${r.filter500P50Ms} | ${r.shown} |`);
    L.push('');
  }
  const at = rep.auditThroughput;
  if (at) {
    L.push('## Audit throughput (AuditRecorder with group commit, hash chain and checkpoints)', '');
    L.push('| Store | events/s | concurrency | sequential record() p50 ms | p99 ms | chain verified |', '|---|---|---|---|---|---|');
    for (const b of [at.sqlite, at.postgres]) {
      if (b.skipped) L.push(`| ${b.backend} | skipped: ${b.skipped} | | | | |`);
      else L.push(`| ${b.backend} | ${b.eventsPerSecond} | ${b.concurrency} | ${f(b.sequentialMs?.p50Ms ?? NaN)} | ${f(b.sequentialMs?.p99Ms ?? NaN)} | ${b.verified ? `yes (${b.verifyMs} ms)` : '**NO**'} |`);
    }
    L.push('');
  }

  const rp = rep.revocationPropagation;
  if (rp) {
    L.push('## Revocation propagation across replicas (PostgreSQL LISTEN/NOTIFY, two in-process replicas)', '');
    if (rp.skipped) L.push(`Skipped: ${rp.skipped}`, '');
    else L.push('| From | p50 ms | p99 ms | max ms | samples |', '|---|---|---|---|---|', `| insert committed on A -> B refuses | ${f(rp.p50Ms)} | ${f(rp.p99Ms)} | ${f(rp.maxMs)} | ${rp.samples} |`, `| add() called on A -> B refuses | ${f(rp.fromCallP50Ms)} | ${f(rp.fromCallP99Ms)} | – | ${rp.samples} |`, '');
  }
  const io = rep.integrityOverhead;
  if (io) {
    L.push(`## Tool integrity on tools/list (${io.tools} tools, two in-process gateways, off vs trust-on-first-use)`, '');
    L.push('| List | off p50 ms | on p50 ms | end-to-end difference | guard work per list (in-process) | guard work / off p50 |', '|---|---|---|---|---|---|');
    L.push(`| warm (same session) | ${io.warm.offP50Ms} | ${io.warm.onP50Ms} | ${io.warm.addedPct} % | ${io.inProcess.warmFilterMs} ms | ${io.addedPct.warm} % |`);
    L.push(`| cold (a new session's first list) | ${io.cold.offP50Ms} | ${io.cold.onP50Ms} | ${io.cold.addedPct} % | ${io.inProcess.coldAssessMs + io.inProcess.warmFilterMs} ms | ${io.addedPct.cold} % |`);
    L.push('', `First sight of the 500 definitions (scan, digest, 500 pins written): ${io.inProcess.firstSightMs} ms, once per definition. The end-to-end difference is within the noise of a shared machine; the guard's own work is the figure the target is checked on.`, '');
  }
  const p = rep.peers;
  L.push(`## Peers in front of the same stdio upstream`, '');
  L.push(`Upstream: ${p.upstream}, tool \`${p.tool}\`. Closed loops, ${p.durationMs / 1000} s each (+${p.warmupMs / 1000} s warm-up). CPU µs/call is the bridge's own process (the stdio children are not in it; supergateway --stateful runs one per session).`, '');
  L.push('| Bridge | Sessions x in flight | calls/s | p50 ms | p99 ms | CPU µs/call | errors | other processes\' CPU | flags |', '|---|---|---|---|---|---|---|---|---|');
  for (const r of p.results) {
    const other = r.cpu ? `${r.cpu.othersPct} %` : '–';
    for (const x of r.shapes) L.push(`| ${r.name} | ${x.sessions} x ${x.inflightPerSession} | ${x.callsPerSec} | ${f(x.latency.p50Ms)} | ${f(x.latency.p99Ms)} | ${x.cpuUsPerCall ?? '–'} | ${x.errors} | ${other} | \`${r.flags}\` |`);
    if (r.error) L.push(`| ${r.name} | – | – | – | – | – | – | ${other} | not measured: ${(r.error ?? '').split('\n')[0]?.replace(/\|/g, '\\|')} |`);
  }
  L.push('');
  if (rep.notes.length) {
    L.push('## Notes', '');
    for (const n of rep.notes) L.push(`- ${n}`);
    L.push('');
  }
  return L.join('\n');
}

export function writeReport(rep: BenchReport, dir: string): { json: string; md: string; markdown: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'latest.json');
  const md = path.join(dir, 'latest.md');
  const markdown = toMarkdown(rep);
  fs.writeFileSync(json, JSON.stringify(rep, null, 2) + '\n');
  fs.writeFileSync(md, markdown);
  return { json, md, markdown };
}
