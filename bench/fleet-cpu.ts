// Where the CPU goes in one leg of the replica bench (bench/replicas.ts): the CPU time (utime + stime, via
// processCpuMs) of the replicas, nginx (master and workers), the upstream, PostgreSQL and this process (the
// client) over the measured window, per call; how busy the whole machine was (/proc/stat); and how many of
// the replicas' connections waited on an advisory lock (the audit chain lock), sampled every 100 ms; and how
// many audit events each append statement carried (the rows of one statement share its transaction id, xmin).
// Processes are read at the window's start and end: one that ended inside the window is left out (the pools
// keep their connections under load, so this is rare); one that started inside it counts from zero.
import fs from 'node:fs';
import os from 'node:os';
import type pg from 'pg';
import { processCpuMs } from './cpu-per-call.js';

export interface LegCpu {
  /** The measured window (after the warm-up, until the last call answered), in ms. */
  windowMs: number;
  calls: number;
  /** CPU per call in µs; null where the leg has no such process. */
  replicasUsPerCall: number | null;
  nginxUsPerCall: number | null;
  upstreamUsPerCall: number;
  /** The replicas' backends plus PostgreSQL's own processes (writer, checkpointer, autovacuum...); null if unreadable. */
  postgresUsPerCall: number | null;
  clientUsPerCall: number;
  /** The sum of the above. */
  allUsPerCall: number;
  /** Each replica's CPU in the window, in ms: an even spread means round robin spread the work. */
  replicaCpuMs: number[];
  /**
   * How long the replicas' main threads (their event loops) were runnable but waiting for a core, as a share of
   * the time they were runnable (/proc/<pid>/schedstat): near 0 when each has a core, high when cores are short.
   */
  replicasWaitForCorePct: number | null;
  /** Non-idle share of every core over the window (other tenants of the machine included). */
  machineBusyPct: number;
  /** The share of every core the processes above took: busy minus ours is someone else's load. */
  oursPct: number;
  /** Mean and max number of replica connections waiting on an advisory lock; null without replicas. */
  lockWaitingMean: number | null;
  lockWaitingMax: number | null;
  /** Audit events per append statement in the window (each replica batches what queued during its last append); null without a schema. */
  eventsPerAppend: number | null;
  /** Append statements per call. */
  appendsPerCall: number | null;
}

export interface LegProcesses {
  replicas: number[];
  nginx?: number;
  upstream: number;
  /** A connection for pg_stat_activity; replicas connect with application_name `${appPrefix}...`. */
  admin: pg.Client;
  appPrefix: string;
  /** The replicas' schema, to count their audit appends. */
  schema?: string;
}

type CpuByPid = Map<number, number>;

/** CPU ms of each pid still alive (a pid gone between listing and reading is skipped). */
function cpuOf(pids: Iterable<number>): CpuByPid {
  const out: CpuByPid = new Map();
  for (const pid of pids) {
    try { out.set(pid, processCpuMs(pid)); } catch { /* exited */ }
  }
  return out;
}

/** CPU spent in the window by the processes alive at its end. */
function spent(before: CpuByPid, after: CpuByPid): number {
  let ms = 0;
  for (const [pid, end] of after) ms += end - (before.get(pid) ?? 0);
  return ms;
}

/** `root` and every process below it (nginx's workers are its master's children). */
function tree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* exited */ }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

/** The replicas' backends and PostgreSQL's own processes, not other clients' backends (the server is shared). */
async function postgresPids(p: LegProcesses): Promise<number[]> {
  const r = await p.admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend' OR application_name LIKE $1`, [`${p.appPrefix}%`]);
  return r.rows.map((row) => row.pid);
}

/** Jiffies since boot over all cores: total and idle (idle + iowait). */
function machineTicks(): { total: number; idle: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: f.reduce((a, b) => a + b, 0), idle: f[3]! + f[4]! };
}

/** The chain head's seq now, to count the rows linked after it. */
async function headSeq(p: LegProcesses): Promise<number | undefined> {
  if (p.schema === undefined) return undefined;
  const r = await p.admin.query<{ s: string | null }>(`SELECT max(seq) AS s FROM "${p.schema}".warden_audit_events`).catch(() => undefined);
  return r === undefined ? undefined : Number(r.rows[0]!.s ?? 0);
}

/** Rows linked after `seq` and the append statements (transactions) that wrote them. */
async function appendsAfter(p: LegProcesses, seq: number): Promise<{ events: number; appends: number } | undefined> {
  const r = await p.admin.query<{ events: string; appends: string }>(
    `SELECT count(*) AS events, count(DISTINCT xmin::text) AS appends FROM "${p.schema!}".warden_audit_events WHERE seq > $1`, [seq]).catch(() => undefined);
  return r === undefined ? undefined : { events: Number(r.rows[0]!.events), appends: Number(r.rows[0]!.appends) };
}

/** Time on a core and time runnable but waiting for one, in ns, of a process's main thread. */
function schedstat(pid: number): { run: number; wait: number } | undefined {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { run: run!, wait: wait! };
  } catch {
    return undefined; // exited, or a kernel without schedstats
  }
}

/** The waiting share of the runnable time between two readings of the same threads. */
function waitShare(before: ReturnType<typeof schedstat>[], after: ReturnType<typeof schedstat>[]): number | null {
  let run = 0, wait = 0;
  before.forEach((b, i) => {
    const a = after[i];
    if (b && a) { run += a.run - b.run; wait += a.wait - b.wait; }
  });
  return run + wait <= 0 ? null : round((100 * wait) / (run + wait));
}

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * CPU the processes under `roots` spend per second while no call arrives (timers: pin refresh, leases, session
 * sweeps...), in ms/s: a fixed cost per replica, which weighs on CPU per call when each replica serves few calls.
 */
export async function idleCpuMsPerSecond(roots: number[], ms = 2000): Promise<number> {
  const pids = (): number[] => roots.flatMap(tree);
  const before = cpuOf(pids());
  const t0 = performance.now();
  await new Promise((res) => setTimeout(res, ms));
  const after = cpuOf(pids());
  return round((spent(before, after) * 1000) / (performance.now() - t0), 2);
}

export interface LegMeter { stop(calls: number): Promise<LegCpu> }

/** Starts measuring now; `stop(calls)` ends the window and divides by the calls answered in it. */
export async function startLegMeter(p: LegProcesses): Promise<LegMeter> {
  const trees = (): { replicas: number[][]; nginx: number[]; upstream: number[] } =>
    ({ replicas: p.replicas.map(tree), nginx: p.nginx === undefined ? [] : tree(p.nginx), upstream: tree(p.upstream) });
  const everyPid = (t: ReturnType<typeof trees>): number[] => [...t.replicas.flat(), ...t.nginx, ...t.upstream];
  const seq0 = await headSeq(p);
  const pgBefore = await postgresPids(p).then(cpuOf, () => undefined);
  const before = cpuOf(everyPid(trees()));
  const sched0 = p.replicas.map(schedstat);
  const client0 = process.cpuUsage();
  const ticks0 = machineTicks();
  const t0 = performance.now();

  const waiting: number[] = [];
  let sampling = p.replicas.length > 0;
  const sampler = (async () => {
    while (sampling) {
      const r = await p.admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
        [`${p.appPrefix}%`]).catch(() => undefined);
      if (r) waiting.push(Number(r.rows[0]!.n));
      await new Promise((res) => setTimeout(res, 100));
    }
  })();

  return {
    async stop(calls) {
      const windowMs = performance.now() - t0;
      const ticks1 = machineTicks();
      const client = process.cpuUsage(client0);
      const t = trees();
      const after = cpuOf(everyPid(t));
      const sched1 = p.replicas.map(schedstat);
      sampling = false;
      await sampler;
      const pgMs = pgBefore === undefined ? undefined : await postgresPids(p).then((pids) => spent(pgBefore, cpuOf(pids)), () => undefined);
      const audit = seq0 === undefined ? undefined : await appendsAfter(p, seq0);
      const msOf = (pids: number[]): number => spent(before, new Map(pids.filter((pid) => after.has(pid)).map((pid) => [pid, after.get(pid)!])));
      const replicaCpuMs = t.replicas.map(msOf);
      const replicasMs = replicaCpuMs.reduce((a, b) => a + b, 0);
      const nginxMs = msOf(t.nginx);
      const upstreamMs = msOf(t.upstream);
      const clientMs = (client.user + client.system) / 1000;
      const allMs = replicasMs + nginxMs + upstreamMs + (pgMs ?? 0) + clientMs;
      const perCall = (ms: number): number => round((ms * 1000) / Math.max(1, calls));
      const dt = ticks1.total - ticks0.total;
      const mean = waiting.reduce((a, b) => a + b, 0) / Math.max(1, waiting.length);
      return {
        windowMs: Math.round(windowMs),
        calls,
        replicasUsPerCall: p.replicas.length === 0 ? null : perCall(replicasMs),
        nginxUsPerCall: p.nginx === undefined ? null : perCall(nginxMs),
        upstreamUsPerCall: perCall(upstreamMs),
        postgresUsPerCall: pgMs === undefined ? null : perCall(pgMs),
        clientUsPerCall: perCall(clientMs),
        allUsPerCall: perCall(allMs),
        replicaCpuMs: replicaCpuMs.map((ms) => Math.round(ms)),
        replicasWaitForCorePct: waitShare(sched0, sched1),
        machineBusyPct: dt <= 0 ? 0 : round((100 * (dt - (ticks1.idle - ticks0.idle))) / dt),
        oursPct: round((100 * allMs) / (os.availableParallelism() * windowMs)),
        lockWaitingMean: p.replicas.length === 0 ? null : round(mean, 2),
        lockWaitingMax: p.replicas.length === 0 ? null : Math.max(0, ...waiting),
        eventsPerAppend: audit === undefined || audit.appends === 0 ? null : round(audit.events / audit.appends, 2),
        appendsPerCall: audit === undefined ? null : round(audit.appends / Math.max(1, calls), 2),
      };
    },
  };
}
