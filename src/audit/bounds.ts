/**
 * What an audit record keeps of values a client controls (method names, URIs, tool names, session ids,
 * protocol versions, claims): every string well-formed and bounded, before it is hashed and stored. A lone
 * surrogate becomes U+FFFD here, once, so the text the chain hashes is the text the store keeps and gives
 * back (UTF-8 cannot hold a lone surrogate: a store would change it on write and `audit verify` would then
 * see a broken hash). A value over its bound keeps its start and says how much was cut, so ten requests with
 * a 3.5 MB method name add ten short records, not 38 MB, and a probe is still visible.
 *
 *   boundEvent({ ...event, method: 'x'.repeat(3_500_000) }).method  // 'xxx…' + ' [3499872 more characters]'
 */
import type { AuditDecision, AuditEvent } from './event.js';

/** Longest kept, in UTF-16 code units, per field. Tool and prompt names are 256, URIs 8 KiB (see upstream bounds). */
export const AUDIT_BOUNDS = {
  method: 128,
  sessionId: 128,
  protocolVersion: 64,
  name: 1024,
  target: 8192,
  reason: 4096,
  listItems: 32,
  arguments: 256 * 1024,
} as const;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` with every lone surrogate as U+FFFD (String#toWellFormed, which Node 20's TypeScript lib lacks). */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** `text` well-formed (lone surrogates as U+FFFD) and at most `max` code units plus a note of what was cut. */
export function boundText(text: string, max: number): string {
  const s = wellFormed(text);
  if (s.length <= max) return s;
  return `${wellFormed(s.slice(0, max))}… [${s.length - max} more characters]`;
}

const opt = (v: string | null | undefined, max: number): string | null | undefined => (typeof v === 'string' ? boundText(v, max) : v);

function boundList(items: readonly string[], max: number): string[] {
  const kept = items.slice(0, AUDIT_BOUNDS.listItems).map((x) => boundText(String(x), max));
  if (items.length > AUDIT_BOUNDS.listItems) kept.push(`… [${items.length - AUDIT_BOUNDS.listItems} more]`);
  return kept;
}

function boundDecision(d: AuditDecision): AuditDecision {
  return {
    ...d,
    policyIds: boundList(d.policyIds, AUDIT_BOUNDS.name),
    ...(d.reason !== undefined ? { reason: boundText(d.reason, AUDIT_BOUNDS.reason) } : {}),
    ...(d.policyVersion !== undefined ? { policyVersion: boundText(d.policyVersion, AUDIT_BOUNDS.name) } : {}),
  };
}

/** The event with every string field well-formed and bounded (see AUDIT_BOUNDS). */
export function boundEvent(e: AuditEvent): AuditEvent {
  const { method, sessionId, protocolVersion, name, target, arguments: args } = AUDIT_BOUNDS;
  const out: AuditEvent = {
    ...e,
    instance: boundText(e.instance, name),
    sessionId: opt(e.sessionId, sessionId) ?? null,
    agent: opt(e.agent, name) ?? null,
    user: opt(e.user, name) ?? null,
    tenant: opt(e.tenant, name) ?? null,
    chain: boundList(e.chain, name),
    authMethod: opt(e.authMethod, method) ?? null,
    protocolVersion: opt(e.protocolVersion, protocolVersion) ?? null,
    method: boundText(e.method, method),
    upstream: opt(e.upstream, name) ?? null,
    target: opt(e.target, target) ?? null,
    argsDigest: opt(e.argsDigest, method) ?? null,
    errorCode: opt(e.errorCode, method) ?? null,
  };
  if (e.task !== undefined) out.task = opt(e.task, name) ?? null;
  if (e.approvalId !== undefined) out.approvalId = opt(e.approvalId, name) ?? null;
  if (e.leaseIds !== undefined) out.leaseIds = boundList(e.leaseIds, name);
  if (e.arguments !== undefined) out.arguments = opt(e.arguments, args) ?? null;
  if (e.upstreamStatus !== undefined) out.upstreamStatus = opt(e.upstreamStatus, method) ?? null;
  if (e.decision !== undefined && e.decision !== null) out.decision = boundDecision(e.decision);
  return out;
}
