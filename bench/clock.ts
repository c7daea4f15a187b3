// A precise wake-up source for the open-loop driver. Node timers have 1 ms resolution and fire late;
// a worker thread blocked in Atomics.wait (fractional-ms timeout, no CPU while waiting) wakes the
// main thread at each scheduled send time instead.
import { Worker } from 'node:worker_threads';

const WORKER_SRC = `
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { startAbs, intervalMs, count } = workerData;
const cell = new Int32Array(new SharedArrayBuffer(4));
const nowAbs = () => performance.timeOrigin + performance.now();
for (let i = 0; i < count; i++) {
  const wait = startAbs + i * intervalMs - nowAbs();
  if (wait > 0.02) Atomics.wait(cell, 0, 0, wait - 0.02);
  while (startAbs + i * intervalMs > nowAbs()) { /* spin the last ~20 us */ }
  parentPort.postMessage(i);
}
`;

/**
 * Calls onTick(i) at (about) startAbs + i*intervalMs for i in [0, count); resolves after the last tick.
 * startAbs is an absolute time in ms (performance.timeOrigin + performance.now()).
 */
export function runClock(startAbs: number, intervalMs: number, count: number, onTick: (i: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SRC, { eval: true, workerData: { startAbs, intervalMs, count } });
    w.on('message', (i: number) => {
      onTick(i);
      if (i === count - 1) void w.terminate().then(() => resolve());
    });
    w.on('error', reject);
    w.on('exit', (code) => { if (code === 0 || code === 1) resolve(); else reject(new Error(`clock worker exited ${code}`)); });
  });
}
