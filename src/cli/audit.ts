/** `warden audit tail`: the newest audit events, as a table or as JSON lines. */
import type { AuditEvent } from '../audit/index.js';
import { auditTrace, type TraceOptions } from './audit-trace.js';

export interface TailOptions {
  config: string;
  json?: boolean;
  limit: string;
}

export function formatEvent(e: AuditEvent): string {
  const target = [e.upstream, e.target].filter(Boolean).join('/') || '-';
  const outcome = e.errorCode ? `${e.outcome}(${e.errorCode})` : e.outcome;
  const session = e.sessionId ? e.sessionId.slice(0, 8) : '-';
  // The policies that decided a refusal, so the line says why without opening the JSON.
  const by = e.decision && e.decision.effect !== 'allow' && e.decision.policyIds.length > 0 ? `  policy ${e.decision.policyIds.join(',')}` : '';
  return `${e.time}  ${e.method.padEnd(24)} ${target.padEnd(36)} ${outcome.padEnd(28)} ${e.latencyMs.toFixed(1).padStart(8)} ms  session ${session}${by}`;
}

import { withConfiguredStore } from './configured-store.js';

export { withConfiguredStore };

/** `warden audit trace`: the timeline of a task, session, user or agent. */
export function auditTraceCommand(opts: TraceOptions & { config: string }): Promise<void> {
  return withConfiguredStore(opts.config, (store) => auditTrace(opts, { query: (q) => store.audit.trace(q) }));
}

export async function auditTail(opts: TailOptions): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a positive whole number');
  await withConfiguredStore(opts.config, async (store) => {
    const events = await store.audit.tail({ limit });
    for (const e of events) process.stdout.write((opts.json ? JSON.stringify(e) : formatEvent(e)) + '\n');
    if (!opts.json && events.length === 0) process.stdout.write(`no audit events yet in ${store.location}\n`);
  });
}
