/**
 * The gateway's tool integrity guard, and how it shows in the log and the audit: one event per definition pinned, quarantined (new or
 * changed), decided, or left unchecked because the store failed; and the finding ids of a tool result.
 */
import type { AuditDraft } from '../audit/recorder.js';
import type { ServerConfig, WardenConfig } from '../config/schema.js';
import { IntegrityGuard, scanResultValue, type IntegrityEvent, type TaintLedger } from '../integrity/index.js';
import type { Entry } from './catalog.js';
import type { IntegrityStore } from '../store/index.js';
import type { Logger } from '../telemetry/log.js';

/** The gateway's guard: each upstream's mode from its config (default trust-on-first-use); its own URL host is allowed. */
export function integrityGuard(
  servers: ReadonlyMap<string, ServerConfig>,
  settings: () => WardenConfig['integrity'],
  store: IntegrityStore | undefined,
  onEvent: (e: IntegrityEvent) => void,
): IntegrityGuard {
  const ownHosts = (u: string) => {
    const s = servers.get(u);
    return s && 'url' in s ? [new URL(s.url).hostname.toLowerCase()] : [];
  };
  return new IntegrityGuard({ store, mode: (u) => servers.get(u)?.integrity ?? 'trust-on-first-use', settings, ownHosts, onEvent });
}

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

/**
 * Scans a tool's result (integrity.scanResults): its finding ids go to the call's audit event and taint the
 * task (or session, `key`) for its later calls.
 */
export function resultScanner(taint: TaintLedger, key: string | null, allowedHosts: readonly string[]) {
  return (entry: Entry, result: Record<string, unknown>, audit: { resultFindings?: readonly string[] }): void => {
    const findings = [...new Set(scanResultValue(result, allowedHosts).map((f) => f.id))].sort();
    if (findings.length === 0) return;
    audit.resultFindings = findings;
    taint.add(key, String(entry.item.name), findings);
  };
}
