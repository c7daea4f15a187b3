/**
 * `warden audit trace --task ID | --session ID | --user U | --agent A [--since T] [--limit N] [--json]`:
 * every hop that matches, as a timeline grouped by session, or as JSON lines (one event per line).
 * The store query is injected, so this file knows nothing of the store.
 */
import type { AuditEvent } from '../audit/event.js';
import { renderTrace, type TraceQuery } from '../audit/trace.js';
import { UsageError } from './exit.js';

export interface TraceOptions {
  task?: string;
  session?: string;
  user?: string;
  agent?: string;
  outcome?: string;
  /** ISO-8601 time, or a duration back from now: 90s, 30m, 12h, 7d. */
  since?: string;
  limit?: string | number;
  json?: boolean;
}

export interface TraceDeps {
  query(q: TraceQuery): Promise<AuditEvent[]>;
  write?: (text: string) => void;
  now?: () => number;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO-8601 time from `--since`: an absolute time or a duration back from now. */
export function parseSince(since: string, now: number): string {
  const rel = /^(\d{1,9})([smhd])$/.exec(since.trim());
  if (rel) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2]!]!).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(since)) {
    const t = Date.parse(since);
    if (!Number.isNaN(t)) return new Date(t).toISOString();
  }
  throw new UsageError('--since must be an ISO-8601 time (2025-06-01T12:00:00Z) or a duration such as 30m, 12h, 7d');
}

export const OUTCOMES = ['ok', 'error', 'denied', 'timeout', 'cancelled', 'intent'] as const;

/**
 * The store query of `opts`. A trace must name what it follows (`requireSubject`); a tail may have no
 * filter at all. Every bad value is a UsageError (exit 2).
 */
export function parseTraceQuery(opts: TraceOptions, now: number, requireSubject = true): TraceQuery {
  const q: TraceQuery = { limit: 1000 };
  if (opts.limit !== undefined) {
    const limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError('--limit must be a whole number from 1 to 100000');
    q.limit = limit;
  }
  for (const key of ['task', 'session', 'user', 'agent'] as const) {
    const v = opts[key];
    if (v !== undefined) {
      if (v.trim() === '') throw new UsageError(`--${key} must not be empty`);
      q[key] = v;
    }
  }
  if (requireSubject && q.task === undefined && q.session === undefined && q.user === undefined && q.agent === undefined) {
    throw new UsageError('name what to trace: --task ID, --session ID, --user U or --agent A');
  }
  if (opts.outcome !== undefined) {
    if (!(OUTCOMES as readonly string[]).includes(opts.outcome)) throw new UsageError(`--outcome must be one of ${OUTCOMES.join(', ')}`);
    q.outcome = opts.outcome;
  }
  if (opts.since !== undefined) q.since = parseSince(opts.since, now);
  return q;
}

export async function auditTrace(opts: TraceOptions, deps: TraceDeps): Promise<void> {
  const write = deps.write ?? ((s: string) => void process.stdout.write(s));
  const q = parseTraceQuery(opts, (deps.now ?? Date.now)());
  const events = await deps.query(q);
  if (opts.json) {
    for (const e of events) write(JSON.stringify(e) + '\n');
    return;
  }
  write(renderTrace(events));
  if (events.length >= q.limit) write(`(limit of ${q.limit} events reached: older events are not shown; narrow with --since or raise --limit)\n`);
}
