// Runs one load phase in a separate process (bench/load-worker.ts), so the load generator never shares an
// event loop with the harness, and returns its result.
import type { ClosedLoopResult, ClosedLoopSpec, OpenLoopResult, OpenLoopSpec } from './load.js';
import { ROOT, tsNodeArgs } from './paths.js';
import { spawnChild, stopChild, waitForOutput } from './procs.js';

const log = (msg: string): void => { process.stderr.write(`[bench] ${msg}\n`); };

export async function runLoad(spec: OpenLoopSpec, label: string): Promise<OpenLoopResult[]>;
export async function runLoad(spec: ClosedLoopSpec, label: string): Promise<ClosedLoopResult>;
export async function runLoad(spec: OpenLoopSpec | ClosedLoopSpec, label: string): Promise<OpenLoopResult[] | ClosedLoopResult> {
  const runMs = spec.warmupMs + spec.durationMs * (spec.mode === 'open' ? spec.targets.length : 1);
  log(`${label}: ${spec.mode} loop, ${runMs / 1000} s`);
  const child = spawnChild(`load ${label}`, process.execPath, tsNodeArgs('load-worker.ts', JSON.stringify(spec)), { cwd: ROOT });
  try {
    const m = await waitForOutput(child, /^RESULT (.+)$/m, runMs + 40_000);
    return JSON.parse(m[1] as string) as OpenLoopResult[] | ClosedLoopResult;
  } finally {
    await stopChild(child, 2000);
  }
}
