/**
 * Appends audit events. The write is awaited before the response leaves, so a call whose event could not
 * be stored is answered with an error instead of its result (fail closed).
 */
import { hostname } from 'node:os';
import { uuidv7, type Clock, systemClock } from '../core/ids.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { AuditStore } from '../store/types.js';
import type { Logger } from '../telemetry/log.js';
import type { AuditEvent } from './event.js';

export type AuditDraft = Omit<AuditEvent, 'id' | 'time' | 'instance' | 'latencyMs'> & { startedAt: number };

export class AuditRecorder {
  readonly instance: string;

  constructor(
    private readonly store: AuditStore,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    instance?: string,
    /** Whether the store can be written at all; checked before anything is forwarded. */
    readonly available: () => boolean = () => true,
  ) {
    this.instance = instance ?? `${hostname()}:${process.pid}`;
  }

  /** Stores the event; throws `audit_unavailable` if it could not be stored. */
  async record(draft: AuditDraft): Promise<AuditEvent> {
    const now = this.clock.now();
    const { startedAt, ...rest } = draft;
    // The id is taken when the event is written, so ids follow write order; `time` is when the request arrived.
    const event: AuditEvent = { id: uuidv7(now), time: new Date(startedAt).toISOString(), instance: this.instance, ...rest, latencyMs: Math.round(Math.max(0, now - startedAt) * 1000) / 1000 };
    try {
      await this.store.append([event]);
    } catch (err) {
      this.log.error({ err: (err as Error).message, method: event.method }, 'audit event could not be stored');
      throw new WardenError('audit_unavailable', 'The audit log is unavailable; the request was refused', JsonRpcCode.AuditUnavailable, 503);
    }
    return event;
  }
}
