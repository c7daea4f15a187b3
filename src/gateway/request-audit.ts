/** The record step's events for one request: its intent (strict audit), its outcome, and what the filter step found. */
import type { AuditDecision, AuditOutcome } from '../audit/event.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { Principal } from '../identity/index.js';
import { errorCodeOf, JsonRpcCode, toJsonRpcError, WardenError } from '../protocol/errors.js';
import { errorResponse, successResponse, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/jsonrpc.js';
import type { RequestMeta } from './gateway-options.js';
import type { RouteContext } from './route-context.js';
import type { GatewaySession } from './session.js';

/** The principal part of an audit event. */
export function auditPrincipal(p: Principal | null) {
  return { agent: p?.agent ?? null, user: p?.user ?? null, tenant: p?.tenant ?? null, chain: p?.chain ?? [], authMethod: p?.method ?? null, task: p?.task ?? null };
}

/** What an error means for the audit record: refused (denied), timed out, cancelled, or failed. */
export function outcomeOf(err: unknown): AuditOutcome {
  const code = errorCodeOf(err);
  if (code === 'upstream_timeout') return 'timeout';
  if (code === 'cancelled') return 'cancelled';
  const refused = ['audit_unavailable', 'store_unavailable', 'policy_denied', 'approval_required', 'task_inactive', 'approval_pending', 'approval_denied', 'approval_declined', 'revoked', 'revocation_unavailable', 'name_collision', 'definition_quarantined', 'integrity_unavailable'];
  if (code !== undefined && refused.includes(code)) {
    return 'denied';
  }
  return 'error';
}

/** What every record of a routed request says: when, who, in which session, and what was asked of which upstream. */
function requestFields(ctx: RouteContext, req: JsonRpcRequest, meta: RequestMeta, session: GatewaySession) {
  return {
    startedAt: meta.startedAt,
    ...auditPrincipal(meta.principal),
    sessionId: session.id,
    protocolVersion: meta.protocolVersion,
    method: req.method,
    upstream: ctx.audit.upstream,
    target: ctx.audit.target,
    argsDigest: ctx.audit.argsDigest,
  };
}

/**
 * Records a request's outcome (and, when the filter step acted, its own events) once it has run or been
 * refused, and gives the response to send: the request's answer, or why it could not be recorded.
 */
export async function recordRequest(
  audit: AuditRecorder,
  ctx: RouteContext,
  req: JsonRpcRequest,
  meta: RequestMeta,
  session: GatewaySession,
  failure: unknown,
  result: Record<string, unknown> | undefined,
): Promise<JsonRpcResponse> {
  try {
    const event = {
      ...requestFields(ctx, req, meta, session),
      upstreamStatus: ctx.audit.upstreamStatus,
      ...(ctx.audit.leaseIds && ctx.audit.leaseIds.length > 0 ? { leaseIds: [...ctx.audit.leaseIds] } : {}),
    };
    // Refused before anything reached an upstream while the audit cannot be written (or is what refused it).
    const auditDown = errorCodeOf(failure) === 'audit_unavailable' || !audit.healthy() || !audit.available();
    const refusedUnaudited = failure !== undefined && ctx.audit.upstreamStatus === null && auditDown;
    const recorded = Promise.all([
      audit.record({
        ...event,
        ...(ctx.audit.intentId === undefined ? {} : { intentId: ctx.audit.intentId }),
        arguments: ctx.audit.arguments,
        decision: ctx.authz.decision,
        approvalId: ctx.authz.approvalId,
        // A call answered with an approval prompt did not run: recorded like a call still waiting for approval.
        outcome: failure === undefined ? (ctx.audit.inputRequired ? 'denied' : 'ok') : outcomeOf(failure),
        errorCode: failure === undefined ? (ctx.audit.inputRequired ? 'approval_pending' : null) : errorCodeOf(failure),
      }),
      // The filter step replaced injected secret values in the upstream's answer: its own event, right after
      // the request's (the audit table has no column for it, and a new field would not be kept or hashed).
      ctx.audit.redacted ? audit.record({ ...event, method: 'response/redacted', outcome: 'ok', errorCode: null }) : undefined,
      // Findings in a tool's result (integrity.scanResults): their own event, naming them.
      ctx.audit.resultFindings && ctx.audit.resultFindings.length > 0
        ? audit.record({ ...event, method: 'response/flagged', decision: { effect: 'allow', policyIds: [], reason: `result findings: ${ctx.audit.resultFindings.join(', ')}` }, outcome: 'ok', errorCode: null })
        : undefined,
    ]);
    if (refusedUnaudited) {
      // Refused, before anything ran, while the audit cannot be written: the refusal's own record is tried,
      // but the answer does not wait on a store that is not answering (fail closed, and fast).
      void recorded.catch(() => undefined);
      return errorResponse(req.id, toJsonRpcError(failure));
    }
    await recorded;
  } catch (err) {
    if (ctx.audit.upstreamStatus === null) return errorResponse(req.id, toJsonRpcError(err));
    // The upstream was reached: the call may have run (its intent shows it unfinished). Not a refusal, so
    // not a 503 that a balancer would retry elsewhere, running it twice.
    const ran = new WardenError('audit_unavailable', 'The call was forwarded, but its outcome could not be recorded: it may have run', JsonRpcCode.AuditUnavailable, 200, { forwarded: true });
    return errorResponse(req.id, toJsonRpcError(ran));
  }
  return failure === undefined ? successResponse(req.id, result!) : errorResponse(req.id, toJsonRpcError(failure));
}

/** Strict audit: commits the intent record of a call about to be forwarded; throws `audit_unavailable` if it cannot. */
export async function recordIntent(audit: AuditRecorder, ctx: RouteContext, req: JsonRpcRequest, meta: RequestMeta, session: GatewaySession): Promise<void> {
  const intent = await audit.record({
    ...requestFields(ctx, req, meta, session),
    arguments: ctx.audit.arguments,
    decision: ctx.authz.decision,
    approvalId: ctx.authz.approvalId,
    outcome: 'intent',
    errorCode: null,
  });
  ctx.audit.intentId = intent.id;
}

/** Records an event the ingress handled itself (a token exchange, a session ended). Throws if it cannot be stored. */
export async function recordOutcome(
  audit: AuditRecorder,
  method: string,
  sessionId: string | null,
  meta: RequestMeta,
  failure?: unknown,
  upstream: string | null = null,
  decision: AuditDecision | null = null,
): Promise<void> {
  await audit.record({
    startedAt: meta.startedAt,
    ...auditPrincipal(meta.principal),
    sessionId,
    protocolVersion: meta.protocolVersion,
    method,
    upstream,
    target: null,
    argsDigest: null,
    decision,
    outcome: failure === undefined ? 'ok' : outcomeOf(failure),
    errorCode: failure === undefined ? null : errorCodeOf(failure),
  });
}
