/**
 * The small interfaces audit exports are written against, so sinks know nothing of store internals.
 * The audit table is the outbox: a sink's cursor is the last `seq` it has received, and everything after it
 * is read again from the store until the sink takes it. Delivery is at-least-once and in `seq` order.
 */
import type { AuditEvent } from '../event.js';

/** An audit event as it is stored: with its position in the chain (1, 2, 3, ...). */
export type SequencedEvent = AuditEvent & { seq: number };

export interface EventSource {
  /** Up to `limit` stored events with seq greater than `seq`, ascending; each carries its `seq`. */
  readAfter(seq: number, limit: number): Promise<AuditEvent[]>;
}

export interface CursorStore {
  /** The last seq delivered to the named sink; 0 if it has received nothing yet. */
  get(sink: string): Promise<number>;
  set(sink: string, seq: number): Promise<void>;
}

export interface Sink {
  /** Stable and unique among sinks: it keys the sink's cursor. */
  readonly name: string;
  /**
   * Delivers a batch, in order. Throws if the batch was not accepted; the pump then retries the same events
   * (and possibly more), so a receiver may see an event twice and should deduplicate by `id` or `seq`.
   * Errors must not carry event contents or secrets: their message is logged.
   */
  deliver(events: AuditEvent[]): Promise<void>;
  /** Releases resources when the pump stops. */
  close?(): Promise<void>;
}

/** The event's seq; throws if the source returned an event without one. */
export function seqOf(e: AuditEvent): number {
  const seq = (e as { seq?: unknown }).seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new Error('audit event without a valid seq');
  return seq;
}

/** An error's message, short and single-line, for a log line. */
export function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s+/g, ' ').slice(0, 300);
}
