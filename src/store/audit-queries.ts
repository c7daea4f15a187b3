/**
 * Shared by both backends: the SQL of a trace query (see TraceQuery and matchesTrace in src/audit/trace.ts,
 * the reference semantics), and the argument checks for traces, sink cursors and pruning.
 */
import type { TraceQuery } from './types.js';

/** The WHERE clause of a trace, its parameter values in order, and which filters it has (for statement names). */
export interface TraceSql {
  where: string;
  values: unknown[];
  /** One letter per filter given, in a fixed order: queries with the same shape share one SQL text. */
  shape: string;
}

/**
 * Builds a trace's filters. `param(i)` spells the i-th parameter (1-based); `inChain(p)` is the backend's
 * exact test that the JSON array text in column `chain` holds the string parameter `p`. Only chained rows.
 */
export function traceWhere(q: TraceQuery, param: (i: number) => string, inChain: (p: string) => string): TraceSql {
  checkTrace(q);
  const conds = ['seq IS NOT NULL'];
  const values: unknown[] = [];
  let shape = '';
  const add = (letter: string, value: string, cond: (p: string) => string): void => {
    values.push(value);
    conds.push(cond(param(values.length)));
    shape += letter;
  };
  if (q.task !== undefined) add('t', q.task, (p) => `task = ${p}`);
  if (q.session !== undefined) add('s', q.session, (p) => `session_id = ${p}`);
  if (q.user !== undefined) add('u', q.user, (p) => `user_subject = ${p}`);
  if (q.agent !== undefined) add('a', q.agent, (p) => `(agent = ${p} OR ${inChain(p)})`);
  if (q.outcome !== undefined) add('o', q.outcome, (p) => `outcome = ${p}`);
  // Event times are canonical toISOString() text, so comparing them with the canonical form of `since` as
  // text is comparing the instants (as matchesTrace does).
  if (q.since !== undefined) add('n', new Date(Date.parse(q.since)).toISOString(), (p) => `time >= ${p}`);
  return { where: conds.join(' AND '), values, shape: shape || 'all' };
}

/** A bad query is a caller bug (a RangeError), not an unavailable store. */
export function checkTrace(q: TraceQuery): void {
  if (!Number.isSafeInteger(q.limit) || q.limit < 0) throw new RangeError(`trace limit must be a non-negative integer, got ${String(q.limit)}`);
  if (q.since !== undefined) {
    const t = Date.parse(q.since);
    if (Number.isNaN(t) || Number.isNaN(new Date(t).getTime())) throw new RangeError(`trace since must be an ISO-8601 time, got ${JSON.stringify(q.since)}`);
  }
  for (const k of ['task', 'session', 'user', 'agent', 'outcome'] as const) {
    const v = q[k];
    if (v !== undefined && typeof v !== 'string') throw new RangeError(`trace ${k} must be a string`);
  }
}

/** A sink cursor's name and position. */
export function checkCursor(sink: string, seq?: number): void {
  if (typeof sink !== 'string' || sink.length === 0) throw new RangeError('sink cursor name must be a non-empty string');
  if (seq !== undefined && (!Number.isSafeInteger(seq) || seq < 0)) throw new RangeError(`sink cursor seq must be a non-negative integer, got ${String(seq)}`);
}

/**
 * Checks a prune bound against the chain head (read before the delete; the head only grows, and prune never
 * removes it, so the check stays true). Pruning the head would leave an empty table, and the next append
 * would restart the chain at seq 1: refused, keep at least the newest event.
 */
export function checkPrune(throughSeq: number, headSeq: number | undefined): void {
  if (!Number.isSafeInteger(throughSeq) || throughSeq < 0) throw new RangeError(`prune throughSeq must be a non-negative integer, got ${String(throughSeq)}`);
  if (headSeq !== undefined && throughSeq >= headSeq) {
    throw new RangeError(`prune through seq ${throughSeq} would delete the chain head (seq ${headSeq}): the newest event is always kept`);
  }
}
