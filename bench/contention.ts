// Measures how much CPU other processes on the machine used while a phase ran, so a reader can
// tell whether the numbers were taken on a quiet machine. Linux only (/proc); elsewhere undefined.
// ours = this process + every reaped descendant (children are stopped and reaped before stop()).
import fs from 'node:fs';

export interface CpuShare {
  /** Share of all cores' capacity, in percent, over the phase. */
  machineBusyPct: number;
  oursPct: number;
  othersPct: number;
  /** VM steal time (capacity taken by the hypervisor), part of othersPct. */
  stealPct: number;
  seconds: number;
}

interface Sample { busy: number; total: number; steal: number; ours: number; at: number }

function sample(): Sample | undefined {
  try {
    const cpu = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
    const busy = user + nice + system + irq + softirq + steal;
    const self = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    // after the comm field: state(0) ... utime(11) stime(12) cutime(13) cstime(14)
    const ours = (f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0);
    return { busy, total: busy + idle + iowait, steal, ours, at: Date.now() };
  } catch {
    return undefined;
  }
}

/** Starts a measurement; call the returned function after the phase's children were stopped. */
export function startCpuMeter(): () => CpuShare | undefined {
  const a = sample();
  return () => {
    const b = sample();
    if (!a || !b || b.total <= a.total) return undefined;
    const total = b.total - a.total; // ticks of all cores
    const pct = (x: number): number => Math.round((x / total) * 1000) / 10;
    const busy = b.busy - a.busy;
    const ours = Math.min(busy, b.ours - a.ours);
    return {
      machineBusyPct: pct(busy), oursPct: pct(ours), othersPct: pct(Math.max(0, busy - ours)), stealPct: pct(b.steal - a.steal),
      seconds: Math.round((b.at - a.at) / 100) / 10,
    };
  };
}
