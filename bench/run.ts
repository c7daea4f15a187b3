// Benchmark entry (`npm run bench`): gateway overhead vs. direct (latency, throughput at 1 x 1, 8 x 1 and 8 x 4,
// CPU per call), the full pipeline's CPU per call, and peer bridges at 8 x 1 and 8 x 4.
// Targets are reported, never enforced: the process exits 0 unless the harness itself breaks.
// Options (env): BENCH_OPEN_SECONDS (default 10), BENCH_CLOSED_SECONDS (5), BENCH_PEER_SECONDS (5),
// BENCH_RATE (500). A CPU profile with its flame graph: bench/cpu-per-call.ts --profile (see its header).
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { startCpuMeter } from './contention.js';
import type { ClosedLoopResult, ClosedLoopSpec } from './load.js';
import { measureCpuPerCall, processCpuMs } from './cpu-per-call.js';
import { runLoad } from './run-load.js';
import { McpHttpSession } from './mcp-http-client.js';
import { RESULTS_DIR } from './paths.js';
import { PEER_FLAGS, PEER_GRACE_MS, startPeer, type PeerName } from './peers.js';
import { installExitHandlers, stopAll, stopChild, tail } from './procs.js';
import { measureAuditThroughput } from './audit-throughput.js';
import { measureAuthCost } from './auth-cost.js';
import { measureGatewayDecide } from './policy-gateway.js';
import { measurePolicyLatency } from './policy-latency.js';
import { measureRevocationPropagation } from './revocation.js';
import { measureIntegrityOverhead } from './integrity.js';
import { evaluateTargets, machineInfo, writeReport, type BenchReport, type ClosedLeg, type GatewayOverhead, type PeerResult } from './report.js';
import { makeTmpDir, startFloorProxy, startMinimalUpstream, startWarden, type Target } from './targets.js';

const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const CFG = {
  rate: num('BENCH_RATE', 500),
  openSessions: 4,
  openWarmupMs: 2000,
  openMs: num('BENCH_OPEN_SECONDS', 10) * 1000,
  openBlockMs: 500,
  /** One session one call (added latency), 8 sessions x 1 and 8 x 4 in flight (throughput). */
  closedShapes: [{ sessions: 1, inflight: 1 }, { sessions: 8, inflight: 1 }, { sessions: 8, inflight: 4 }],
  closedWarmupMs: 1000,
  closedMs: num('BENCH_CLOSED_SECONDS', 5) * 1000,
  /** Peers at both concurrencies: 8 sessions x 1 and x 4 in flight. */
  peerShapes: [{ sessions: 8, inflight: 1 }, { sessions: 8, inflight: 4 }],
  peerWarmupMs: 1000,
  peerMs: num('BENCH_PEER_SECONDS', 5) * 1000,
};
const ECHO_ARGS = { message: 'hi' };

const log = (msg: string): void => { process.stderr.write(`[bench] ${msg}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const firstLines = (s: string, n = 3): string => s.split('\n').slice(0, n).join(' / ');

/** Handshake, tools/list must contain the tool, one tools/call must succeed. */
async function smoke(url: string, tool: string): Promise<void> {
  const s = new McpHttpSession(url, 2);
  try {
    await s.initialize(15_000);
    const list = await s.request('tools/list', {}, 15_000);
    const tools = (list.result?.tools ?? []) as { name: string }[];
    if (!tools.some((t) => t.name === tool)) throw new Error(`tool '${tool}' not listed (got: ${tools.map((t) => t.name).join(', ') || JSON.stringify(list.error)})`);
    const r = await s.callTool(tool, ECHO_ARGS, 15_000);
    if (r.error || r.result?.isError) throw new Error(`tools/call ${tool} failed: ${JSON.stringify(r.error ?? r.result)}`);
  } finally {
    await s.close();
  }
}

async function gatewayOverhead(tmpDir: string, notes: string[]): Promise<GatewayOverhead> {
  const g: GatewayOverhead = {
    upstream: 'bench/minimal-upstream.ts (node:http, application/json responses, separate process)',
    openLoop: { rate: CFG.rate, sessions: CFG.openSessions, blockMs: CFG.openBlockMs, warmupMs: CFG.openWarmupMs, durationMs: CFG.openMs },
    closedLoop: { warmupMs: CFG.closedWarmupMs, durationMs: CFG.closedMs },
    closed: [],
  };
  const upstream = await startMinimalUpstream();
  let gateway: Target | undefined;
  let floor: Target | undefined;
  try {
    await smoke(upstream.url, 'echo');
    floor = await startFloorProxy(upstream.url);
    log(`minimal upstream at ${upstream.url}`);
    try {
      gateway = await startWarden({ bench: { url: upstream.url } }, tmpDir, 'http');
      await smoke(gateway.url, 'echo');
      log(`gateway at ${gateway.url}`);
    } catch (e) {
      g.gatewaySkipped = `mcp-warden could not be started or failed the smoke check: ${firstLines(e instanceof Error ? e.message : String(e))}`;
      log(g.gatewaySkipped);
      if (gateway) await stopChild(gateway.child);
      gateway = undefined;
    }

    const closed = (url: string, sessions: number, inflight: number): ClosedLoopSpec => ({ mode: 'closed', url, tool: 'echo', args: ECHO_ARGS, sessions, inflight, warmupMs: CFG.closedWarmupMs, durationMs: CFG.closedMs });

    // Open loop: direct and gateway interleaved in blocks within one load process (A/B).
    const targets = [{ name: 'direct', url: upstream.url }, ...(gateway ? [{ name: 'gateway', url: gateway.url }] : [])];
    const legs = await runLoad({
      mode: 'open', targets, tool: 'echo', args: ECHO_ARGS, sessions: CFG.openSessions, rate: CFG.rate,
      blockMs: CFG.openBlockMs, warmupMs: CFG.openWarmupMs, durationMs: CFG.openMs,
    }, targets.map((t) => t.name).join('+'));
    g.openLoop.direct = legs.find((l) => l.target === 'direct');
    g.openLoop.gateway = legs.find((l) => l.target === 'gateway');
    const d = g.openLoop.direct, w = g.openLoop.gateway;
    if (d && w) {
      g.openLoop.addedP50Ms = round3(w.latency.p50Ms - d.latency.p50Ms);
      g.openLoop.addedP99Ms = round3(w.latency.p99Ms - d.latency.p99Ms);
      g.openLoop.addedServiceP50Ms = round3(w.serviceTime.p50Ms - d.serviceTime.p50Ms);
      g.openLoop.addedServiceP99Ms = round3(w.serviceTime.p99Ms - d.serviceTime.p99Ms);
      if (w.timedOut > 0 || w.errors > 0) notes.push(`Gateway open-loop leg had ${w.errors} errors and ${w.timedOut} unanswered calls (first error: ${w.firstError ?? 'n/a'}).`);
    }
    // Closed loops at each concurrency, direct then gateway; each leg's own process CPU per call beside it.
    for (const { sessions, inflight } of CFG.closedShapes) {
      const leg: ClosedLeg = { sessions, inflightPerSession: inflight };
      await sleep(300);
      leg.direct = await withCpu(upstream.child.proc.pid, () => runLoad(closed(upstream.url, sessions, inflight), `direct ${sessions}x${inflight}`));
      if (floor) {
        await sleep(300);
        leg.floor = await withCpu(floor.child.proc.pid, () => runLoad(closed(floor!.url, sessions, inflight), `floor ${sessions}x${inflight}`));
        leg.floorRatio = round3(leg.floor.callsPerSec / leg.direct.callsPerSec);
        leg.floorAddedP50Ms = round3(leg.floor.latency.p50Ms - leg.direct.latency.p50Ms);
      }
      if (gateway) {
        await sleep(300);
        leg.gateway = await withCpu(gateway.child.proc.pid, () => runLoad(closed(gateway!.url, sessions, inflight), `gateway ${sessions}x${inflight}`));
        leg.ratio = round3(leg.gateway.callsPerSec / leg.direct.callsPerSec);
        leg.addedP50Ms = round3(leg.gateway.latency.p50Ms - leg.direct.latency.p50Ms);
        if (leg.gateway.errors > 0) notes.push(`Gateway closed-loop leg ${sessions}x${inflight} had ${leg.gateway.errors} errors (first: ${leg.gateway.firstError ?? 'n/a'}).`);
      }
      g.closed.push(leg);
    }
  } finally {
    if (gateway) await stopChild(gateway.child);
    if (floor) await stopChild(floor.child);
    await stopChild(upstream.child);
  }
  return g;
}

async function peers(tmpDir: string): Promise<PeerResult[]> {
  const out: PeerResult[] = [];
  for (const name of ['mcp-proxy', 'supergateway', 'mcp-warden'] as PeerName[]) {
    const res: PeerResult = { name, flags: PEER_FLAGS[name], shapes: [] };
    const meter = startCpuMeter();
    let t: Target | undefined;
    try {
      t = await startPeer(name, tmpDir);
      await smoke(t.url, 'echo');
      log(`${name} at ${t.url}`);
      for (const { sessions, inflight } of CFG.peerShapes) {
        // The bridge's own process: for warden and mcp-proxy the stdio child is not in it.
        res.shapes.push(await withCpu(t.child.proc.pid, () => runLoad({
          mode: 'closed', url: t!.url, tool: 'echo', args: ECHO_ARGS, sessions, inflight, warmupMs: CFG.peerWarmupMs, durationMs: CFG.peerMs,
        }, `${name} ${sessions}x${inflight}`)));
      }
    } catch (e) {
      res.error = e instanceof Error ? e.message : String(e);
      log(`${name} skipped: ${firstLines(res.error)}${t ? `\n${tail(t.child.output(), 5)}` : ''}`);
    } finally {
      if (t) await stopChild(t.child, PEER_GRACE_MS[name]);
    }
    const cpu = meter();
    if (cpu) res.cpu = cpu;
    out.push(res);
    await sleep(300);
  }
  return out;
}

/** Runs a closed loop and adds the CPU time the process `pid` spent per answered call (warm-up included). */
async function withCpu(pid: number | undefined, run: () => Promise<ClosedLoopResult>): Promise<ClosedLoopResult & { cpuUsPerCall?: number }> {
  const before = pid === undefined ? undefined : processCpuMs(pid);
  const r = await run();
  if (pid === undefined || before === undefined || r.allCalls === 0) return r;
  return { ...r, cpuUsPerCall: Math.round(((processCpuMs(pid) - before) * 1000 / r.allCalls) * 10) / 10 };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  installExitHandlers();
  const started = performance.now();
  const tmpDir = makeTmpDir();
  process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));
  const notes: string[] = [
    'Added latency = gateway percentile minus direct percentile of the same open-loop schedule; the load generator, upstream and gateway are separate processes sharing this machine\'s cores.',
    'Open loop: direct and gateway legs run in one load process, alternating every 0.5 s (A/B interleaving), each with its own keep-alive sessions. Sends are woken by a worker thread sleeping in Atomics.wait; the dispatch-lag column shows how late sends actually left (included in the scheduled-time latency of both legs).',
    'Peers: supergateway runs --stateful (one server-everything child per session; its stateless mode spawns a child per request) with --logLevel none; mcp-proxy runs with its defaults (one shared child).',
  ];
  try {
    const machine = await machineInfo();
    if (machine.busyBeforeStartPct > 20) {
      const warn = `The machine was already ${machine.busyBeforeStartPct} % busy before the run (other processes): numbers, especially p99 and throughput, are unreliable; rerun on a quiet machine.`;
      notes.unshift(`**Warning:** ${warn}`);
      log(warn);
    }
    const runMeter = startCpuMeter();
    const gMeter = startCpuMeter();
    const g = await gatewayOverhead(tmpDir, notes);
    const gCpu = gMeter();
    if (gCpu) g.cpu = gCpu;
    log('CPU per call, full pipeline (JWT, 100 policies, strict audit)');
    const cpuPerCall = await measureCpuPerCall({ sessions: 8, inflight: 1, durationMs: CFG.closedMs });
    const peerResults = await peers(tmpDir);
    log('authentication cost (in-process)');
    const authenticationCost = await measureAuthCost();
    log('policy decision latency (in-process)');
    const policyDecisionLatency = await measurePolicyLatency();
    log('gateway decide step (in-process)');
    const decided = await measureGatewayDecide();
    const gatewayDecide = Array.isArray(decided) ? decided : undefined;
    if (!Array.isArray(decided)) notes.push(`Gateway decide step: not measured (${decided.error}).`);
    const decideAt100 = gatewayDecide?.find((r) => r.policies === 100);
    log('audit throughput');
    const auditThroughput = await measureAuditThroughput();
    log('revocation propagation (PostgreSQL, two in-process replicas)');
    const revocationPropagation = await measureRevocationPropagation();
    log('tool integrity on tools/list with 500 tools (two in-process gateways)');
    const integrityOverhead = await measureIntegrityOverhead();
    const runCpu = runMeter();
    const busy = [gCpu, ...peerResults.map((r) => r.cpu)].filter((c) => c && c.othersPct > 10);
    if (busy.length) {
      const worst = Math.max(...busy.map((c) => c?.othersPct ?? 0));
      notes.unshift(`**Warning:** other processes used up to ${worst} % of the machine's CPU capacity during some sections (see the CPU figures): those numbers, especially p99 and throughput, are unreliable; rerun on a quiet machine.`);
      log(notes[0] ?? '');
    }
    const report: BenchReport = {
      machine: { ...machine, loadAvgEnd: os.loadavg().map((x) => Math.round(x * 100) / 100), ...(runCpu ? { cpuDuringRun: runCpu } : {}) },
      gatewayOverhead: g,
      peers: {
        upstream: '@modelcontextprotocol/server-everything (stdio)', tool: 'echo {message:"hi"}',
        warmupMs: CFG.peerWarmupMs, durationMs: CFG.peerMs,
        results: peerResults,
      },
      targets: [
        ...evaluateTargets(g, cpuPerCall, peerResults),
        { name: 'authentication added p50 (cached JWKS, token seen before)', goal: '<= 50 µs', value: authenticationCost.addedP50Us, unit: 'µs', met: authenticationCost.addedP50Us <= 50 },
        { name: 'policy decision p50 at 100 policies', goal: `<= ${policyDecisionLatency.target.goalUs} µs`, value: policyDecisionLatency.target.p50UsAt100, unit: 'µs', met: policyDecisionLatency.target.met },
        { name: 'gateway decide step p50 at 100 policies (entities, arguments, approval set)', goal: '<= 50 µs', value: decideAt100?.decideP50Us ?? null, unit: 'µs', met: decideAt100 === undefined ? null : decideAt100.decideP50Us <= 50 },
        {
          name: 'audit throughput on SQLite',
          goal: `>= ${auditThroughput.targetEventsPerSecond} events/s`,
          value: auditThroughput.sqlite.eventsPerSecond ?? null,
          unit: 'events/s',
          met: auditThroughput.sqlite.eventsPerSecond === undefined ? null : auditThroughput.sqliteMeetsTarget,
        },
        {
          name: 'revocation propagation p99 across replicas (PostgreSQL)',
          goal: '<= 1000 ms',
          value: revocationPropagation.p99Ms ?? null,
          unit: 'ms',
          met: revocationPropagation.p99Ms === undefined ? null : revocationPropagation.p99Ms <= 1000,
        },
        {
          name: 'tool integrity added to tools/list on 500 tools (cold list, guard work / list p50)',
          goal: '< 5 %',
          value: integrityOverhead.addedPct.cold,
          unit: '%',
          met: integrityOverhead.addedPct.cold < 5,
        },
      ],
      cpuPerCall,
      authenticationCost,
      policyDecisionLatency,
      ...(gatewayDecide ? { gatewayDecide } : {}),
      auditThroughput,
      revocationPropagation,
      integrityOverhead,
      notes,
      totalRuntimeSec: Math.round((performance.now() - started) / 100) / 10,
    };
    const { json, md, markdown } = writeReport(report, RESULTS_DIR);
    process.stdout.write(markdown + '\n');
    log(`wrote ${json} and ${md}`);
  } finally {
    await stopAll();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch(async (e: unknown) => {
  log(`failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  await stopAll();
  process.exitCode = 1;
});
