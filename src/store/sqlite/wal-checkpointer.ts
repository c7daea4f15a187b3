/**
 * Copies a SQLite store's write-ahead log into the database file from a worker thread, so that the
 * checkpoint SQLite runs on the commit path finds little left to do.
 *
 * SQLite checkpoints on the commit that crosses `wal_autocheckpoint`, on the thread that committed: with
 * better-sqlite3 that is the event loop, and every call in flight waits while thousands of pages are copied
 * and the database file synced (measured at 500 calls/s: p99 48 ms with those checkpoints, 14 ms without).
 * Here a second connection in a worker runs a PASSIVE checkpoint every `intervalMs`: it never blocks the
 * writer, and by the time the commit path checkpoints, most frames are in the database already. The commit
 * path still checkpoints: only a checkpoint with no writer between it and the next write lets SQLite start
 * the log over, so without it the log would grow for as long as writes keep coming. Commits are exactly as
 * durable as before; only who copies the log, and when, changes.
 *
 * If the worker cannot start or stops, nothing is lost: the commit path checkpoints as it always did, and
 * the failure is reported once.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain CommonJS run with `eval`, so the same code serves the built package and TypeScript under tsx.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const tick = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage({ error: String(err && err.message || err) }); }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  tick();
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  /** Whether the worker is checkpointing (false once it failed or was stopped). */
  running(): boolean;
  /** Stops the worker after a last checkpoint; resolves when it has exited. */
  stop(): Promise<void>;
}

export function startWalCheckpointer(
  file: string,
  opts: { intervalMs?: number; onFailure?: (reason: string) => void } = {},
): WalCheckpointer {
  let worker: Worker | undefined;
  let stopping = false;
  let failed = false;
  let exited = false;
  const fail = (reason: string): void => {
    if (failed || stopping) return;
    failed = true;
    opts.onFailure?.(reason);
  };
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs: opts.intervalMs ?? 250 } });
    // The worker must not keep the process alive on its own.
    worker.unref();
    worker.on('message', (m: { error?: string }) => {
      if (m.error !== undefined) fail(`WAL checkpoint failed in the worker: ${m.error}`);
    });
    worker.on('error', (err) => fail(`WAL checkpoint worker failed: ${err.message}`));
    worker.on('exit', (code) => {
      exited = true;
      if (!stopping) fail(`WAL checkpoint worker exited (code ${code})`);
    });
  } catch (err) {
    fail(`WAL checkpoint worker could not start: ${(err as Error).message}`);
  }
  return {
    running: () => !failed && !stopping,
    async stop(): Promise<void> {
      if (stopping) return;
      stopping = true;
      const w = worker;
      // A worker that reported a failed checkpoint is still running, with its connection open: it is stopped too.
      if (w === undefined || exited) return;
      const gone = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage('stop');
      // A worker stuck in a checkpoint is not waited on forever: closing the store checkpoints anyway.
      const timer = setTimeout(() => void w.terminate(), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}
