// Load drivers (open-loop at a fixed rate, closed-loop at fixed concurrency) and latency statistics.
import { performance } from 'node:perf_hooks';
import { runClock } from './clock.js';
import { McpHttpSession } from './mcp-http-client.js';

export interface LatencyStats {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export interface OpenLoopResult {
  mode: 'open';
  target: string;
  rate: number;
  sessions: number;
  /** Measured time spent on this target (sum of its blocks). */
  durationMs: number;
  sent: number;
  ok: number;
  errors: number;
  timedOut: number;
  achievedRate: number;
  /** Latency measured from the scheduled send time (coordinated-omission corrected). */
  latency: LatencyStats;
  /** Latency measured from the actual send time (service time). */
  serviceTime: LatencyStats;
  /** How late each request actually left relative to its schedule. */
  dispatchLag: LatencyStats;
  firstError?: string;
}

export interface ClosedLoopResult {
  mode: 'closed';
  sessions: number;
  inflightPerSession: number;
  durationMs: number;
  ok: number;
  errors: number;
  /** Every call answered, warm-up included (CPU-per-call divides the process CPU of the whole run by it). */
  allCalls: number;
  callsPerSec: number;
  latency: LatencyStats;
  firstError?: string;
}

interface CommonSpec {
  tool: string;
  args: Record<string, unknown>;
  sessions: number;
  warmupMs: number;
  durationMs: number;
  /** Headers sent with every request (an Authorization bearer token). */
  headers?: Record<string, string>;
}

export interface OpenLoopSpec extends CommonSpec {
  mode: 'open';
  /** One or more targets; the schedule alternates between them in blocks of blockMs (A/B interleaving). */
  targets: { name: string; url: string }[];
  /** calls per second (to whichever target is active) */
  rate: number;
  blockMs: number;
  /** how long to wait for stragglers after the schedule ends */
  drainMs?: number;
}

export interface ClosedLoopSpec extends CommonSpec {
  mode: 'closed';
  url: string;
  /** concurrent in-flight calls per session */
  inflight: number;
}

export function stats(samples: ArrayLike<number>): LatencyStats {
  const n = samples.length;
  if (n === 0) return { count: 0, p50Ms: NaN, p90Ms: NaN, p99Ms: NaN, maxMs: NaN, meanMs: NaN };
  const s = Float64Array.from(samples).sort();
  const q = (p: number): number => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))] as number;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i] as number;
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { count: n, p50Ms: r(q(0.5)), p90Ms: r(q(0.9)), p99Ms: r(q(0.99)), maxMs: r(s[n - 1] as number), meanMs: r(sum / n) };
}

async function openSessions(url: string, count: number, maxSockets: number, headers?: Record<string, string>): Promise<McpHttpSession[]> {
  const out: McpHttpSession[] = [];
  for (let i = 0; i < count; i++) {
    const s = new McpHttpSession(url, maxSockets, headers);
    await s.initialize();
    out.push(s);
  }
  return out;
}

async function closeSessions(sessions: McpHttpSession[]): Promise<void> {
  await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Open loop: request i is due at t0 + i/rate regardless of earlier responses. The schedule
 * alternates between the targets every blockMs, so slow drifts of the machine hit all of them
 * alike. Requests go round-robin over each target's sessions when the clock worker wakes us;
 * latency is taken from the due time, so a slow response delays nothing but is fully counted.
 * The warm-up part of the schedule is discarded.
 */
export async function openLoop(spec: OpenLoopSpec): Promise<OpenLoopResult[]> {
  const { rate, blockMs } = spec;
  const nT = spec.targets.length;
  const interval = 1000 / rate;
  const totalMs = spec.warmupMs + spec.durationMs * nT;
  const total = Math.floor((totalMs * rate) / 1000);
  const warmCount = Math.floor((spec.warmupMs * rate) / 1000);
  const measured = total - warmCount;
  const legs = [] as {
    sessions: McpHttpSession[]; lat: Float64Array; svc: Float64Array; lag: Float64Array;
    sent: number; ok: number; errors: number; done: number; firstError?: string;
  }[];
  for (const t of spec.targets) {
    legs.push({
      sessions: await openSessions(t.url, spec.sessions, 32, spec.headers),
      lat: new Float64Array(measured), svc: new Float64Array(measured), lag: new Float64Array(measured),
      sent: 0, ok: 0, errors: 0, done: 0,
    });
  }
  let next = 0;
  const t0 = performance.now() + 50;

  const fire = (i: number, due: number): void => {
    const sent = performance.now();
    const leg = legs[Math.floor((i * interval) / blockMs) % nT] as (typeof legs)[number];
    const counted = i >= warmCount;
    const sess = leg.sessions[i % leg.sessions.length] as McpHttpSession;
    if (counted) leg.lag[leg.sent++] = sent - due;
    sess.callTool(spec.tool, spec.args).then(
      (r) => {
        const end = performance.now();
        if (counted) {
          if (r.error || r.result?.isError) {
            leg.errors++;
            leg.firstError ??= JSON.stringify(r.error ?? r.result);
          } else {
            leg.lat[leg.ok] = end - due; leg.svc[leg.ok] = end - sent; leg.ok++;
          }
          leg.done++;
        }
      },
      (e: unknown) => {
        if (counted) { leg.errors++; leg.firstError ??= String(e); leg.done++; }
      },
    );
  };

  await runClock(performance.timeOrigin + t0, interval, total, (i) => {
    while (next <= i) { fire(next, t0 + next * interval); next++; }
  });
  while (next < total) { fire(next, t0 + next * interval); next++; }

  const drainUntil = performance.now() + (spec.drainMs ?? 5000);
  while (legs.some((l) => l.done < l.sent) && performance.now() < drainUntil) await sleep(5);
  await Promise.all(legs.map((l) => closeSessions(l.sessions)));
  return legs.map((l, k) => ({
    mode: 'open' as const, target: spec.targets[k]?.name ?? String(k), rate, sessions: spec.sessions,
    durationMs: spec.durationMs, sent: l.sent, ok: l.ok, errors: l.errors, timedOut: l.sent - l.done,
    achievedRate: Math.round((l.sent / spec.durationMs) * 1000 * 10) / 10,
    latency: stats(l.lat.subarray(0, l.ok)), serviceTime: stats(l.svc.subarray(0, l.ok)),
    dispatchLag: stats(l.lag.subarray(0, l.sent)),
    ...(l.firstError ? { firstError: l.firstError } : {}),
  }));
}

/** Closed loop: sessions x inflight workers, each sends its next call as soon as the previous returns. */
export async function closedLoop(spec: ClosedLoopSpec): Promise<ClosedLoopResult> {
  const { inflight } = spec;
  const sessions = await openSessions(spec.url, spec.sessions, inflight, spec.headers);
  const start = performance.now();
  const measureFrom = start + spec.warmupMs;
  const end = measureFrom + spec.durationMs;
  const lat: number[] = [];
  let ok = 0, errors = 0, allCalls = 0, firstError: string | undefined;
  const worker = async (s: McpHttpSession): Promise<void> => {
    // Bounded: stops at the deadline; every call has a timeout so a stuck call cannot hang us.
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const r = await s.callTool(spec.tool, spec.args, 30_000);
        const e = performance.now();
        allCalls++;
        if (t >= measureFrom && e <= end) {
          if (r.error || r.result?.isError) { errors++; firstError ??= JSON.stringify(r.error ?? r.result); } else { ok++; lat.push(e - t); }
        }
      } catch (err) {
        if (t >= measureFrom) { errors++; firstError ??= String(err); }
        await sleep(10);
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (const s of sessions) for (let i = 0; i < inflight; i++) workers.push(worker(s));
  await Promise.all(workers);
  await closeSessions(sessions);
  return {
    mode: 'closed', sessions: spec.sessions, inflightPerSession: inflight, durationMs: spec.durationMs, ok, errors, allCalls,
    callsPerSec: Math.round((ok / spec.durationMs) * 1000 * 10) / 10,
    latency: stats(lat),
    ...(firstError ? { firstError } : {}),
  };
}
