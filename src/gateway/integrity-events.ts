/**
 * How tool integrity shows in the log and the audit: one event per definition pinned, quarantined (new or
 * changed), decided, or left unchecked because the store failed; and the finding ids of a tool result.
 */
import type { AuditDraft } from '../audit/recorder.js';
import { scanResultValue, type IntegrityEvent } from '../integrity/index.js';
import type { Logger } from '../telemetry/log.js';

const quarantines = (e: IntegrityEvent) => e.event === 'changed' || e.event === 'new' || e.event === 'rejected';

function reasonOf(e: IntegrityEvent): string {
  return [
    `${e.kind} ${e.name} ${e.digest.slice(0, 19)}`,
    e.previous ? `pinned ${e.previous.slice(0, 19)}` : '',
    e.findings.length > 0 ? `findings: ${e.findings.join(', ')}` : '',
    e.by ? `by ${e.by}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

export function logIntegrityEvent(log: Logger, e: IntegrityEvent): void {
  const fields = { upstream: e.upstream, kind: e.kind, name: e.name, digest: e.digest, previous: e.previous, findings: e.findings };
  const message = `tool integrity: ${e.event}: ${reasonOf(e)}`;
  if (quarantines(e) || e.event === 'unavailable') log.warn(fields, message);
  else log.info(fields, message);
}

/** `integrity/<event>`: who decided (an operator) as the agent; a quarantine is a refusal with its code. */
export function integrityAuditDraft(e: IntegrityEvent): AuditDraft {
  const refused = quarantines(e);
  const failed = e.event === 'unavailable';
  return {
    startedAt: Date.now(),
    agent: e.by ?? null,
    user: null,
    tenant: null,
    chain: [],
    authMethod: null,
    task: null,
    sessionId: null,
    protocolVersion: null,
    method: `integrity/${e.event}`,
    upstream: e.upstream,
    target: e.name,
    argsDigest: null,
    decision: { effect: refused || failed ? 'deny' : 'allow', policyIds: [], reason: reasonOf(e) },
    outcome: failed ? 'error' : refused ? 'denied' : 'ok',
    errorCode: failed ? 'integrity_unavailable' : refused ? 'definition_quarantined' : null,
  };
}

/** The finding ids in a tool's result (integrity.scanResults), sorted, once each. */
export function resultFindings(result: Record<string, unknown>, allowedHosts: readonly string[]): string[] {
  return [...new Set(scanResultValue(result, allowedHosts).map((f) => f.id))].sort();
}
