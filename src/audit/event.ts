/** The audit event: one record per request that crosses the gateway, whatever its outcome. */
export interface AuditDecision {
  effect: 'allow' | 'deny' | 'needs-approval';
  policyIds: string[];
  reason?: string;
  policyVersion?: string;
}

/**
 * `intent` marks the record committed before a call is forwarded (strict audit); the call's own record,
 * written when it ends, names it in `intentId`. An intent no record names is a call whose end is unknown.
 */
export type AuditOutcome = 'ok' | 'error' | 'denied' | 'timeout' | 'cancelled' | 'intent';

export interface AuditEvent {
  /** Sortable, unguessable id (UUIDv7). */
  id: string;
  /** ISO-8601 time the request arrived. */
  time: string;
  /** The gateway instance that handled it. */
  instance: string;
  /** Downstream MCP session, absent for stateless (2026-07-28) requests and pre-session failures. */
  sessionId: string | null;
  /** Who asked: the agent acting, the human it acts for, the tenant, and the delegation chain (nearest first). */
  agent: string | null;
  user: string | null;
  tenant: string | null;
  chain: string[];
  /** How the caller authenticated (`none`, `oauth-jwt`, `spiffe-jwt`, `mtls`, `gateway-token`), or null if it did not. */
  authMethod: string | null;
  /** Protocol revision of the client leg. */
  protocolVersion: string | null;
  /** JSON-RPC method, or an HTTP-level label such as `http` for requests rejected before parsing. */
  method: string;
  /** The upstream server the request was routed to, if any. */
  upstream: string | null;
  /** The tool, prompt or resource as the upstream names it. */
  target: string | null;
  /** sha256 over the canonical JSON of the arguments; never the arguments themselves. */
  argsDigest: string | null;
  outcome: AuditOutcome;
  /** Stable error code (WardenErrorCode or `upstream_error`) when outcome is not ok. */
  errorCode: string | null;
  latencyMs: number;
  /** The task the call ran under (zero standing privilege), when there is one. */
  task?: string | null;
  /** The policy decision: effect, the determining policy ids, a readable reason and the policy set's version. */
  decision?: AuditDecision | null;
  /** The human approval that authorised the call, if one was needed. */
  approvalId?: string | null;
  /** Credentials (leases) used for the upstream hop, by id; never their values. */
  leaseIds?: string[];
  /** Arguments as recorded per `audit.arguments`: a redacted JSON copy when set to `redacted`, else absent. */
  arguments?: string | null;
  /** How the upstream hop ended: `ok`, `error` (the tool's own error), `timeout`, `unavailable`, `invalid`, or absent when no upstream was contacted. */
  upstreamStatus?: string | null;
  /** On a forwarded call's record: the id of the intent record committed before it was forwarded (strict audit). */
  intentId?: string | null;
  /**
   * The event's place in the store's hash chain (see chain.ts), filled when read back from the store; the
   * recorder never sets them. seq counts 1, 2, 3, ... per store; hash = sha256(prevHash + '\n' + content).
   */
  readonly seq?: number;
  readonly prevHash?: string;
  readonly hash?: string;
}
