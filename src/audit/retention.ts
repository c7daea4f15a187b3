/**
 * Retention: events older than `retentionDays` are pruned, but only through a signed checkpoint, so the
 * chain that remains verifies from that checkpoint as its anchor, and never past an event some export sink
 * has not yet received (the audit table is the sinks' outbox).
 */
import type { AuditStore } from '../store/types.js';
import type { Logger } from '../telemetry/log.js';

export interface RetentionOptions {
  retentionDays: number;
  /** Names of the configured export sinks; pruning stops at the lowest of their cursors. */
  sinks: readonly string[];
  now?: () => number;
}

/** The seq to prune through: the newest checkpoint created before the cutoff and not past any sink's cursor. */
export async function pruneBoundary(audit: AuditStore, opts: RetentionOptions): Promise<number | undefined> {
  const cutoff = new Date((opts.now ?? Date.now)() - opts.retentionDays * 86_400_000).toISOString();
  // The newest event always stays: a chain pruned empty would restart at seq 1 and orphan its checkpoints.
  const head = await audit.head();
  if (head === undefined) return undefined;
  let ceiling = head.seq - 1;
  for (const sink of opts.sinks) ceiling = Math.min(ceiling, await audit.getSinkCursor(sink));
  let boundary: number | undefined;
  let after = 0;
  for (;;) {
    const page = await audit.checkpoints(after, 1000);
    for (const cp of page) {
      // Every event up to a checkpoint's seq was written before the checkpoint was signed.
      if (cp.createdAt > cutoff || cp.seq > ceiling) return boundary;
      boundary = cp.seq;
    }
    if (page.length < 1000) return boundary;
    after = page[page.length - 1]!.seq;
  }
}

/** Prunes once; returns how many events were deleted. */
export async function pruneExpired(audit: AuditStore, opts: RetentionOptions): Promise<number> {
  if (opts.retentionDays <= 0) return 0;
  const through = await pruneBoundary(audit, opts);
  return through === undefined ? 0 : audit.prune(through);
}

/** Runs retention at start and then hourly, off the request path; failures are logged and retried next hour. */
export function startRetention(audit: AuditStore, opts: RetentionOptions, log: Logger): () => void {
  if (opts.retentionDays <= 0) return () => undefined;
  const run = () =>
    void pruneExpired(audit, opts).then(
      (n) => n > 0 && log.info({ deleted: n }, 'audit retention pruned events through a checkpoint'),
      (err: unknown) => log.error({ err: (err as Error).message }, 'audit retention failed'),
    );
  run();
  const timer = setInterval(run, 3_600_000);
  timer.unref();
  return () => clearInterval(timer);
}
