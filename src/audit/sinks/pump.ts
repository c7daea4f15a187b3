/**
 * Moves the audit log to export sinks, off the request path. Each sink has its own lane: read the events
 * after its cursor, deliver them, advance the cursor. A failing sink is retried with exponential backoff
 * (1 s doubling to 60 s by default) and nothing is dropped meanwhile, because the audit table is the outbox:
 * when the sink is back it receives everything after its cursor, in order. Delivery is at-least-once (a
 * crash between delivery and cursor update repeats a batch).
 *
 * Work per run is bounded (`maxBatchesPerRun` batches), after which the lane yields to the event loop.
 * `record()` never waits on a sink: `wake()` only arms a timer.
 */
import type { Logger } from '../../telemetry/log.js';
import type { AuditEvent } from '../event.js';
import { errorText, seqOf, type CursorStore, type EventSource, type Sink } from './types.js';

export interface PumpOptions {
  /** Events per read and per delivery. Default 500. */
  batchSize?: number;
  /** Batches a lane delivers before yielding to the event loop. Default 4. */
  maxBatchesPerRun?: number;
  /** First retry delay after a failure; doubles per consecutive failure. Default 1000. */
  minBackoffMs?: number;
  /** Longest retry delay. Default 60000. */
  maxBackoffMs?: number;
  /** Looks for new events this often even without `wake()` (events written by other replicas). Default 5000; 0 disables. */
  pollMs?: number;
  /**
   * How long a gap in seq (an event not yet visible, e.g. a concurrent writer's uncommitted transaction) is
   * waited for before the lane moves past it (it may be gone for good: pruned). Default 2000.
   */
  gapWaitMs?: number;
  now?: () => number;
  /**
   * Whether this replica may pump now (takes or renews its lease; see start-gateway): with several replicas
   * on one store, one pumps and the others wait, and one of them takes over once the leader's lease lapses.
   * Absent: always.
   */
  leader?: () => Promise<boolean>;
  /** How soon a replica that does not lead asks again. Default 5000. */
  followerRetryMs?: number;
}

export interface SinkStatus {
  name: string;
  /** The last seq this sink has taken, as of its last run. */
  cursor: number;
  /** Consecutive failures; 0 when healthy. */
  failures: number;
  /** Epoch ms of the next retry while failing, else null. */
  retryAt: number | null;
  lastError: string | null;
}

interface Lane {
  sink: Sink;
  cursor: number;
  busy: boolean;
  /** A wake arrived while the lane was busy. */
  again: boolean;
  failures: number;
  retryAt: number | null;
  lastError: string | null;
  gapSince: number | null;
  timer: NodeJS.Timeout | null;
  running: Promise<void> | null;
}

const GAP_RECHECK_MS = 100;

/** The retry delay after `failures` consecutive failures: min, 2*min, 4*min ... capped at max. */
export function backoffDelay(failures: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

export class SinkPump {
  private readonly lanes: Lane[];
  private readonly opts: Required<PumpOptions>;
  private poller: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly source: EventSource,
    private readonly cursors: CursorStore,
    sinks: readonly Sink[],
    private readonly log: Logger,
    opts: PumpOptions = {},
  ) {
    const names = new Set(sinks.map((s) => s.name));
    if (names.size !== sinks.length) throw new Error('audit sink names must be unique');
    this.opts = { batchSize: 500, maxBatchesPerRun: 4, minBackoffMs: 1000, maxBackoffMs: 60_000, pollMs: 5000, gapWaitMs: 2000, now: Date.now, leader: async () => true, followerRetryMs: 5000, ...opts };
    this.lanes = sinks.map((sink) => ({ sink, cursor: 0, busy: false, again: false, failures: 0, retryAt: null, lastError: null, gapSince: null, timer: null, running: null }));
  }

  /** Starts every lane and the poll timer. */
  start(): void {
    if (this.stopped) return;
    for (const lane of this.lanes) this.schedule(lane, 0);
    if (this.opts.pollMs > 0 && !this.poller) {
      this.poller = setInterval(() => this.wake(), this.opts.pollMs);
      this.poller.unref();
    }
  }

  /** New events were appended: healthy lanes look for them soon. Lanes in backoff keep their retry time. Cheap and synchronous. */
  wake(): void {
    if (this.stopped) return;
    for (const lane of this.lanes) {
      if (lane.retryAt !== null) continue;
      if (lane.busy) lane.again = true;
      else this.schedule(lane, 0);
    }
  }

  status(): SinkStatus[] {
    return this.lanes.map((l) => ({ name: l.sink.name, cursor: l.cursor, failures: l.failures, retryAt: l.retryAt, lastError: l.lastError }));
  }

  /** Stops all timers, waits up to `timeoutMs` for deliveries in flight, then closes the sinks. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    for (const lane of this.lanes) if (lane.timer) clearTimeout(lane.timer);
    const inFlight = this.lanes.flatMap((l) => (l.busy && l.running ? [l.running] : []));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(inFlight), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    for (const lane of this.lanes) {
      try {
        await lane.sink.close?.();
      } catch (err) {
        this.log.warn({ sink: lane.sink.name, err: errorText(err) }, 'audit sink did not close cleanly');
      }
    }
  }

  private schedule(lane: Lane, delayMs: number): void {
    if (this.stopped || lane.timer) return;
    lane.timer = setTimeout(() => {
      lane.timer = null;
      lane.running = this.run(lane);
    }, delayMs);
    lane.timer.unref();
  }

  private async run(lane: Lane): Promise<void> {
    if (this.stopped || lane.busy) return;
    lane.busy = true;
    lane.again = false;
    let next: number | null = null;
    try {
      next = await this.deliverSome(lane);
      lane.failures = 0;
      lane.retryAt = null;
      lane.lastError = null;
    } catch (err) {
      lane.failures += 1;
      next = backoffDelay(lane.failures, this.opts.minBackoffMs, this.opts.maxBackoffMs);
      lane.retryAt = this.opts.now() + next;
      lane.lastError = errorText(err);
      this.log.warn({ sink: lane.sink.name, failures: lane.failures, retryInMs: next, after: lane.cursor, err: lane.lastError }, 'audit sink delivery failed; will retry');
    } finally {
      lane.busy = false;
    }
    if (next === null && lane.again) next = 0;
    if (next !== null) this.schedule(lane, next);
  }

  /** Delivers up to maxBatchesPerRun batches. Returns when to run again (ms), or null to wait for a wake. */
  private async deliverSome(lane: Lane): Promise<number | null> {
    const { batchSize, maxBatchesPerRun } = this.opts;
    if (!(await this.opts.leader())) return this.opts.followerRetryMs;
    lane.cursor = await this.cursors.get(lane.sink.name);
    for (let i = 0; i < maxBatchesPerRun; i++) {
      if (this.stopped) return null;
      const read = await this.source.readAfter(lane.cursor, batchSize);
      const batch = this.contiguous(lane, read);
      if (batch === 'wait') return GAP_RECHECK_MS;
      if (batch.length === 0) return null;
      await lane.sink.deliver(batch);
      const last = seqOf(batch[batch.length - 1]!);
      await this.cursors.set(lane.sink.name, last);
      lane.cursor = last;
      if (read.length < batchSize && batch.length === read.length) return null;
    }
    return 0;
  }

  /** The run of consecutive seqs right after the cursor; 'wait' while a gap before it is young. */
  private contiguous(lane: Lane, read: AuditEvent[]): AuditEvent[] | 'wait' {
    const events = read.filter((e) => seqOf(e) > lane.cursor);
    if (events.length === 0) {
      lane.gapSince = null;
      return [];
    }
    let expected = lane.cursor + 1;
    const first = seqOf(events[0]!);
    if (first !== expected) {
      const now = this.opts.now();
      lane.gapSince ??= now;
      if (now - lane.gapSince < this.opts.gapWaitMs) return 'wait';
      this.log.warn({ sink: lane.sink.name, missingFrom: expected, missingTo: first - 1 }, 'audit seq gap did not fill; continuing past it');
      expected = first;
    }
    lane.gapSince = null;
    let n = 0;
    while (n < events.length && seqOf(events[n]!) === expected + n) n++;
    return events.slice(0, n);
  }
}
