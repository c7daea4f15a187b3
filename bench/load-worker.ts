// Child-process entry for the load generator, so it never shares an event loop with the harness.
// Usage: node --import tsx bench/load-worker.ts '<json OpenLoopSpec | ClosedLoopSpec>'
// Prints one line `RESULT <json>` on success.
import { closedLoop, openLoop, type ClosedLoopSpec, type OpenLoopSpec } from './load.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as OpenLoopSpec | ClosedLoopSpec;
// Hard stop: never outlive the planned run by much.
const hardStop = setTimeout(() => {
  process.stderr.write('load-worker: hard time limit reached\n');
  process.exit(3);
}, spec.warmupMs + spec.durationMs * (spec.mode === 'open' ? spec.targets.length : 1) + 30_000);
hardStop.unref();

try {
  const result = spec.mode === 'open' ? await openLoop(spec) : await closedLoop(spec);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`load-worker: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
}
