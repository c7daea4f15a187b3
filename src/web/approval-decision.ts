/**
 * What the HTTP ways of deciding a request share (the signed callback, src/ingress/approval-routes.ts, the
 * approval page, src/ingress/approval-page.ts, and the console, src/console/pages/approvals.ts): the refusals with their HTTP status, the decision itself (unknown
 * 404, decided or expired 409, refused by the approver rules 403), and its audit event.
 */
import type { ApprovalService } from '../approvals/index.js';
import type { AuditDecision } from '../audit/event.js';
import type { AuditRecorder } from '../audit/index.js';
import { WardenError } from '../protocol/errors.js';
import type { ApprovalRecord, ApprovalStore } from '../store/types.js';

/** A refused request: its HTTP status, a stable code (for the audit event) and a message for the caller. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Verb = 'approve' | 'deny';

export function assertPending(r: ApprovalRecord, now: number): void {
  if (r.state !== 'pending') throw new Refusal(409, 'not_pending', `Request ${r.id} is already ${r.state}`);
  if (Date.parse(r.expiresAt) <= now) throw new Refusal(409, 'not_pending', `Request ${r.id} has expired`);
}

export interface DecisionDeps {
  service: ApprovalService;
  store: Pick<ApprovalStore, 'get'>;
  now: () => number;
  /** Approve only a request whose complete call can be shown (the page: the approver saw it there). */
  approveShownOnly?: boolean;
}

/**
 * Decides request `id` for `approver`; `seen` gets the request once it is found (for the audit event of a
 * refusal). Returns the decided request and the decision for its audit event.
 */
export async function decideRequest(deps: DecisionDeps, id: string, approver: string, verb: Verb, reason: string | null, seen: (r: ApprovalRecord) => void = () => {}): Promise<{ done: ApprovalRecord; decision: AuditDecision }> {
  const record = await deps.store.get(id);
  if (record === undefined) throw new Refusal(404, 'unknown_approval', `No approval request ${id}`);
  seen(record);
  assertPending(record, deps.now());
  const state = verb === 'approve' ? 'approved' : 'denied';
  let done: ApprovalRecord;
  try {
    done = await deps.service.decide(id, approver, state, reason, deps.approveShownOnly ?? false);
  } catch (err) {
    if (!(err instanceof WardenError)) throw err;
    if (err.code === 'call_not_shown') throw new Refusal(409, err.code, err.message);
    // Decided or expired meanwhile is a conflict; anything else is the approver checks refusing.
    const current = await deps.store.get(id);
    if (current !== undefined) assertPending(current, deps.now());
    throw new Refusal(403, 'forbidden', err.message);
  }
  return { done, decision: { effect: state === 'approved' ? 'allow' : 'deny', policyIds: done.policyIds, reason: `${state} by ${approver}${reason ? `: ${reason}` : ''}` } };
}

export interface DecisionEvent {
  startedAt: number;
  /** The request, once found. */
  record: ApprovalRecord | undefined;
  /** The request aimed at, even one refused before it was looked up. */
  id: string | null;
  verb: Verb | undefined;
  /** How the decider was authenticated (`webhook`, `oidc`); null when they were not. */
  authMethod: string | null;
  decision: AuditDecision | null;
  errorCode: string | null;
}

/** A decision, or a refused attempt, as an audit event (`approval/approve`, `approval/deny`, `approval/decision`). */
export function recordDecision(audit: AuditRecorder, e: DecisionEvent): Promise<unknown> {
  const r = e.record;
  return audit.record({
    startedAt: e.startedAt,
    agent: r?.agent ?? null,
    user: r?.user ?? null,
    tenant: r?.tenant ?? null,
    chain: r?.chain ?? [],
    authMethod: e.authMethod,
    task: r?.task ?? null,
    sessionId: null,
    protocolVersion: null,
    method: e.verb ? `approval/${e.verb}` : 'approval/decision',
    upstream: r?.upstream ?? null,
    target: r?.tool ?? null,
    argsDigest: null,
    decision: e.decision,
    approvalId: r?.id ?? e.id,
    outcome: e.errorCode === null ? 'ok' : e.errorCode === 'internal' ? 'error' : 'denied',
    errorCode: e.errorCode,
  });
}
