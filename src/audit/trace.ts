/**
 * Traces: every hop of a task, session, user or agent as a readable timeline, grouped by session, with
 * the delegation (`alice → planner → coder`), the decision and its policies, the approval and the leases
 * (credentials) each call used, as far as the events record them.
 */
import { printable } from '../core/printable.js';
import type { TraceQuery } from '../store/types.js';
import type { AuditEvent } from './event.js';
import { delegationPath, eventExtras } from './sinks/fields.js';

/**
 * What a trace selects. Filters combine with AND. `agent` matches the acting agent or any agent in the
 * delegation chain. `since` is ISO-8601. At most `limit` events: the newest that match, oldest first.
 */
export type { TraceQuery } from '../store/types.js';

/** The query's semantics over events in memory (the reference for store implementations, and tests). */
export function matchesTrace(q: TraceQuery, e: AuditEvent): boolean {
  if (q.task !== undefined && eventExtras(e).task !== q.task) return false;
  if (q.session !== undefined && e.sessionId !== q.session) return false;
  if (q.user !== undefined && e.user !== q.user) return false;
  if (q.agent !== undefined && e.agent !== q.agent && !e.chain.includes(q.agent)) return false;
  if (q.outcome !== undefined && e.outcome !== q.outcome) return false;
  if (q.since !== undefined && Date.parse(e.time) < Date.parse(q.since)) return false;
  return true;
}

/** Seq when both have one, else time, then id. */
function compareEvents(a: AuditEvent, b: AuditEvent): number {
  const sa = eventExtras(a).seq;
  const sb = eventExtras(b).seq;
  if (sa !== undefined && sb !== undefined) return sa - sb;
  return a.time < b.time ? -1 : a.time > b.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function principalLabel(e: AuditEvent): string {
  const path = delegationPath(e);
  return path.length > 0 ? path.join(' → ') : 'anonymous';
}

function outcomeLabel(e: AuditEvent): string {
  if (e.outcome === 'intent') return 'UNFINISHED (forwarded, no outcome recorded)';
  return e.errorCode ? `${e.outcome} (${e.errorCode})` : e.outcome;
}

/**
 * Intents (strict audit) that a record in the list closes are folded into it; the others stay, shown as
 * unfinished: a call the upstream may have run, whose end is not recorded (or that is still running).
 */
export function foldIntents(events: readonly AuditEvent[]): AuditEvent[] {
  const closed = new Set(events.map((e) => e.intentId).filter((id): id is string => typeof id === 'string'));
  return events.filter((e) => e.outcome !== 'intent' || !closed.has(e.id));
}

function details(e: AuditEvent, showTask: boolean): string[] {
  const x = eventExtras(e);
  const parts: string[] = [];
  if (showTask && x.task) parts.push(`task ${x.task}`);
  if (x.effect || x.policyIds.length > 0) {
    const policies = x.policyIds.length > 0 ? ` by ${x.policyIds.join(', ')}` : '';
    const version = x.policyVersion ? ` (policy ${x.policyVersion})` : '';
    parts.push(`decision ${x.effect ?? '?'}${policies}${version}`);
  }
  if (x.approvalId) parts.push(`approval ${x.approvalId}`);
  if (x.leaseIds.length > 0) parts.push(`lease${x.leaseIds.length > 1 ? 's' : ''} ${x.leaseIds.join(', ')}`);
  if (x.upstreamStatus !== undefined) parts.push(`upstream status ${x.upstreamStatus}`);
  const lines = parts.length > 0 ? [parts.join(' · ')] : [];
  if (x.reason) lines.push(`reason: ${x.reason}`);
  return lines;
}

const distinct = (xs: (string | undefined)[]): string[] => [...new Set(xs.filter((x): x is string => x !== undefined && x !== ''))];

function renderSession(session: string | null, events: AuditEvent[]): string[] {
  const tasks = distinct(events.map((e) => eventExtras(e).task));
  const tenants = distinct(events.map((e) => e.tenant ?? undefined));
  const paths = distinct(events.map(principalLabel));
  const about = [tasks.length === 1 ? `task ${tasks[0]}` : tasks.length > 1 ? `tasks ${tasks.join(', ')}` : '', tenants.length > 0 ? `tenant ${tenants.join(', ')}` : '']
    .filter(Boolean)
    .join(', ');
  const out = [`${session === null ? 'no session' : `session ${session}`}${about ? ` (${about})` : ''}`, `  by ${paths.join(' | ')}`];
  const rows = events.map((e) => ({
    e,
    cols: [e.time, principalLabel(e), e.method, [e.upstream, e.target].filter(Boolean).join('/') || '-', outcomeLabel(e), `${e.latencyMs.toFixed(1)} ms`],
  }));
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r.cols[i]!.length)));
  for (const { e, cols } of rows) {
    const last = cols[5]!.padStart(10);
    out.push('  ' + cols.slice(0, 5).map((c, i) => c.padEnd(widths[i]!)).join('  ') + '  ' + last);
    for (const d of details(e, tasks.length > 1)) out.push(`      ${d}`);
  }
  return out;
}

const p = (v: string | null | undefined): string | null => (typeof v === 'string' ? printable(v) : null);

/**
 * The event with every text a client, a token or an upstream could have chosen made printable (see
 * core/printable.ts): a claim holding a newline or an escape sequence cannot start a forged line of the trace.
 */
export function printableEvent(e: AuditEvent): AuditEvent {
  const d = e.decision;
  return {
    ...e,
    time: printable(e.time),
    sessionId: p(e.sessionId),
    agent: p(e.agent),
    user: p(e.user),
    tenant: p(e.tenant),
    chain: e.chain.map(printable),
    method: printable(e.method),
    upstream: p(e.upstream),
    target: p(e.target),
    errorCode: p(e.errorCode),
    outcome: printable(e.outcome) as AuditEvent['outcome'],
    ...(e.task !== undefined ? { task: p(e.task) } : {}),
    ...(e.approvalId !== undefined ? { approvalId: p(e.approvalId) } : {}),
    ...(e.leaseIds !== undefined ? { leaseIds: e.leaseIds.map(printable) } : {}),
    ...(e.upstreamStatus !== undefined ? { upstreamStatus: p(e.upstreamStatus) } : {}),
    ...(d
      ? {
          decision: {
            ...d,
            policyIds: d.policyIds.map(printable),
            ...(d.reason !== undefined ? { reason: printable(d.reason) } : {}),
            ...(d.policyVersion !== undefined ? { policyVersion: printable(d.policyVersion) } : {}),
          },
        }
      : {}),
  };
}

/** A readable timeline of the events, grouped by session (sessions in order of their first event); every value printable. */
export function renderTrace(events: AuditEvent[]): string {
  if (events.length === 0) return 'no matching audit events\n';
  const sorted = foldIntents([...events].sort(compareEvents)).map(printableEvent);
  const groups = new Map<string | null, AuditEvent[]>();
  for (const e of sorted) {
    const g = groups.get(e.sessionId);
    if (g) g.push(e);
    else groups.set(e.sessionId, [e]);
  }
  const failed = sorted.filter((e) => e.outcome !== 'ok' && e.outcome !== 'intent').length;
  const unfinished = sorted.filter((e) => e.outcome === 'intent').length;
  const head = `trace: ${sorted.length} event${sorted.length === 1 ? '' : 's'} in ${groups.size} session${groups.size === 1 ? '' : 's'}, ${sorted[0]!.time} .. ${sorted[sorted.length - 1]!.time}${failed > 0 ? `, ${failed} not ok` : ''}${unfinished > 0 ? `, ${unfinished} unfinished` : ''}`;
  const out = [head];
  for (const [session, list] of groups) out.push('', ...renderSession(session, list));
  return out.join('\n') + '\n';
}
