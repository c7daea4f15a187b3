/**
 * Appends audit events. Each caller awaits the commit of its own event before its response leaves, so a
 * call whose event could not be stored is answered with an error instead of its result (fail closed).
 * Events arriving together are committed together (group commit): one transaction per event-loop turn
 * instead of one per request, which keeps that promise at a fraction of the cost under load.
 */
import { hostname } from 'node:os';
import { uuidv7, type Clock, systemClock } from '../core/ids.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { AuditStore } from '../store/types.js';
import type { Logger } from '../telemetry/log.js';
import type { AuditEvent } from './event.js';
import { boundEvent } from './bounds.js';

export type AuditDraft = Omit<AuditEvent, 'id' | 'time' | 'instance' | 'latencyMs'> & { startedAt: number };

interface Queued {
  event: AuditEvent;
  resolve: () => void;
  reject: (err: Error) => void;
}

const MAX_BATCH = 1000;

export class AuditRecorder {
  readonly instance: string;
  private queue: Queued[] = [];
  private flushing = false;

  private readonly clock: Clock;
  /** Whether the store can be written at all; checked before anything is forwarded. */
  readonly available: () => boolean;
  private readonly onCommitted?: (events: number) => void;

  constructor(
    private readonly store: AuditStore,
    private readonly log: Logger,
    opts: {
      clock?: Clock;
      instance?: string;
      available?: () => boolean;
      /** Called after each committed batch (to wake the exporters); never on the request's critical path. */
      onCommitted?: (events: number) => void;
    } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.instance = opts.instance ?? `${hostname()}:${process.pid}`;
    this.available = opts.available ?? (() => true);
    this.onCommitted = opts.onCommitted;
  }

  /** Stores the event; throws `audit_unavailable` if it could not be stored. */
  async record(draft: AuditDraft): Promise<AuditEvent> {
    const now = this.clock.now();
    const { startedAt, ...rest } = draft;
    // The id is taken when the event is queued, so ids follow write order; `time` is when the request arrived.
    // Client-controlled text is bounded and made well-formed before it is hashed and stored (bounds.ts).
    const event = boundEvent({ id: uuidv7(now), time: new Date(startedAt).toISOString(), instance: this.instance, ...rest, latencyMs: Math.round(Math.max(0, now - startedAt) * 1000) / 1000 });
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
    return event;
  }

  /** Commits queued events in order, batch after batch, until the queue is empty. */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.store.append(batch.map((q) => q.event));
        for (const q of batch) q.resolve();
        this.onCommitted?.(batch.length);
      } catch (err) {
        this.log.error({ err: (err as Error).message, events: batch.length }, 'audit events could not be stored');
        const refused = new WardenError('audit_unavailable', 'The audit log is unavailable; the request was refused', JsonRpcCode.AuditUnavailable, 503);
        for (const q of batch) q.reject(refused);
      }
    }
    this.flushing = false;
  }
}
