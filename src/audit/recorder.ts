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
  /** When it was queued (clock ms): the append lag is measured from here to its commit. */
  queuedAt: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const unavailable = (): WardenError =>
  new WardenError('audit_unavailable', 'The audit log is unavailable; the request was refused', JsonRpcCode.AuditUnavailable, 503);

const MAX_BATCH = 1000;

export class AuditRecorder {
  readonly instance: string;
  private queue: Queued[] = [];
  private flushing = false;

  private readonly clock: Clock;
  /** Whether the store can be written at all; checked before anything is forwarded. */
  readonly available: () => boolean;
  private readonly onCommitted?: (events: number) => void;
  private readonly onRecorded?: (event: AuditEvent, lagMs: number) => void;
  private readonly deadlineMs: number;
  /** The last append failed and none has succeeded since. */
  private failing = false;

  constructor(
    private readonly store: AuditStore,
    private readonly log: Logger,
    opts: {
      clock?: Clock;
      instance?: string;
      available?: () => boolean;
      /** Called after each committed batch (to wake the exporters); never on the request's critical path. */
      onCommitted?: (events: number) => void;
      /** Called for each committed event with its append lag (queued to committed, ms): for metrics. */
      onRecorded?: (event: AuditEvent, lagMs: number) => void;
      /**
       * The longest a caller waits for its event's commit (default: no limit of its own, the store's deadlines
       * apply); past it the caller gets `audit_unavailable`. The event may still be committed later.
       */
      deadlineMs?: number;
    } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.instance = opts.instance ?? `${hostname()}:${process.pid}`;
    this.available = opts.available ?? (() => true);
    this.onCommitted = opts.onCommitted;
    this.onRecorded = opts.onRecorded;
    this.deadlineMs = opts.deadlineMs ?? Infinity;
  }

  /**
   * Whether the log is being written: the last append did not fail, and no queued event has waited past the
   * deadline (a store that stopped answering). For readiness.
   */
  healthy(): boolean {
    // The batch being committed was queued before anything still waiting.
    const oldest = this.inFlightSince ?? this.queue[0]?.queuedAt;
    return !this.failing && (oldest === undefined || this.clock.now() - oldest <= this.deadlineMs);
  }

  /** Events waiting to be committed (for metrics). */
  queued(): number {
    return this.queue.length;
  }

  /** Resolves once every queued event is committed or refused (at shutdown, before the store closes). */
  async settled(): Promise<void> {
    while (this.flushing) await new Promise((r) => setTimeout(r, 10));
  }

  /** When the batch being committed was first queued, while one is. */
  private inFlightSince: number | undefined;

  /** Stores the event; throws `audit_unavailable` if it could not be stored. */
  async record(draft: AuditDraft): Promise<AuditEvent> {
    const now = this.clock.now();
    const { startedAt, ...rest } = draft;
    // The id is taken when the event is queued, so ids follow write order; `time` is when the request arrived.
    // Client-controlled text is bounded and made well-formed before it is hashed and stored (bounds.ts).
    const event = boundEvent({ id: uuidv7(now), time: new Date(startedAt).toISOString(), instance: this.instance, ...rest, latencyMs: Math.round(Math.max(0, now - startedAt) * 1000) / 1000 });
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.queue.push({ event, queuedAt: now, resolve, reject });
        if (!this.flushing) {
          this.flushing = true;
          setImmediate(() => void this.flush());
        }
        if (Number.isFinite(this.deadlineMs)) timer = setTimeout(() => reject(unavailable()), this.deadlineMs);
      });
    } finally {
      clearTimeout(timer);
    }
    return event;
  }

  /** Commits queued events in order, batch after batch, until the queue is empty. */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlightSince = batch[0]!.queuedAt;
      try {
        await this.store.append(batch.map((q) => q.event));
        this.failing = false;
        for (const q of batch) q.resolve();
        this.onCommitted?.(batch.length);
        const now = this.clock.now();
        for (const q of batch) this.onRecorded?.(q.event, now - q.queuedAt);
      } catch (err) {
        this.failing = true;
        this.log.error({ err: (err as Error).message, events: batch.length }, 'audit events could not be stored');
        const refused = unavailable();
        for (const q of batch) q.reject(refused);
      }
    }
    this.inFlightSince = undefined;
    this.flushing = false;
  }
}
