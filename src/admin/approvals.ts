/**
 * Approval routes. Reading needs the approver or the admin scope; deciding needs the approver scope and a
 * human: the approver is the token's user (`sub`), never the workload, so a token without a user decides
 * nothing. The ApprovalService rules apply on top (listed approvers, separation of duties), and an agent
 * may not decide a request of its own or of an agent in its chain, whoever the token says it acts for.
 */
import type { AuditDecision } from '../audit/event.js';
import { WardenError } from '../protocol/errors.js';
import type { ApprovalRecord, ApprovalState } from '../store/types.js';
import type { AdminContext, Answer } from './context.js';
import { AdminError, optionalText, queryChoice, queryLimit } from './http.js';

const STATES = ['pending', 'approved', 'denied', 'consumed', 'all'] as const;

export async function listApprovals(ctx: AdminContext, query: URLSearchParams): Promise<Answer> {
  ctx.requireScope(ctx.opts.approverScope, ctx.opts.adminScope);
  const state = queryChoice(query, 'state', STATES, 'pending');
  const list = await ctx.opts.approvalStore.list({ ...(state === 'all' ? {} : { state: state as ApprovalState }), limit: queryLimit(query) });
  return { status: 200, body: { approvals: list } };
}

async function found(ctx: AdminContext, id: string): Promise<ApprovalRecord> {
  const r = await ctx.opts.approvalStore.get(id);
  if (r === undefined) throw new AdminError(404, 'unknown_approval', `No approval request ${id}`);
  return r;
}

/** One request, with `call`: its complete call while pending (`{shown, params, bytes}`), or why it is not shown. */
export async function showApproval(ctx: AdminContext, id: string): Promise<Answer> {
  ctx.requireScope(ctx.opts.approverScope, ctx.opts.adminScope);
  const r = await found(ctx, id);
  const call = ctx.opts.approvals ? await ctx.opts.approvals.shownCall(r) : { shown: false, reason: 'no approvers are configured (approvals.approvers)' };
  return { status: 200, body: { ...r, call } };
}

function assertPending(ctx: AdminContext, r: ApprovalRecord): void {
  if (r.state !== 'pending') throw new AdminError(409, 'not_pending', `Request ${r.id} is already ${r.state}`);
  if (Date.parse(r.expiresAt) <= ctx.now()) throw new AdminError(409, 'not_pending', `Request ${r.id} has expired`);
}

/** The caller's workload (or an agent that delegated to it) is the requesting agent or in its chain. */
function ownRequest(ctx: AdminContext, r: ApprovalRecord): boolean {
  const callers = [ctx.principal.agent, ...ctx.principal.chain];
  const requesters = [r.agent, ...r.chain];
  return callers.some((a) => requesters.includes(a));
}

export async function decideApproval(ctx: AdminContext, id: string, verb: 'approve' | 'deny', body: Record<string, unknown>): Promise<Answer> {
  ctx.requireScope(ctx.opts.approverScope);
  const reason = optionalText(body, 'reason');
  const approver = ctx.principal.user;
  const method = `approval/${verb}`;
  let record: ApprovalRecord | undefined;
  try {
    if (approver === null) throw new AdminError(403, 'forbidden', 'Only a person decides: this token names no user (a workload acting alone may not approve)');
    const service = ctx.opts.approvals;
    if (service === undefined) throw new AdminError(403, 'forbidden', 'No approvers are configured (approvals.approvers)');
    record = await found(ctx, id);
    assertPending(ctx, record);
    if (ownRequest(ctx, record)) throw new AdminError(403, 'forbidden', 'An agent may not approve its own request');
    const state = verb === 'approve' ? 'approved' : 'denied';
    let done: ApprovalRecord;
    try {
      done = await service.decide(id, approver, state, reason);
    } catch (err) {
      if (!(err instanceof WardenError)) throw err;
      // Decided or expired meanwhile is a conflict; anything else is the approver checks refusing.
      const current = await ctx.opts.approvalStore.get(id);
      if (current !== undefined) assertPending(ctx, current);
      throw new AdminError(403, 'forbidden', err.message);
    }
    const decision: AuditDecision = { effect: state === 'approved' ? 'allow' : 'deny', policyIds: done.policyIds, reason: `${state} by ${approver}${reason ? `: ${reason}` : ''}` };
    await ctx.record({ ...fields(done), method, decision, outcome: 'ok', errorCode: null });
    return { status: 200, body: { id, state: done.state } };
  } catch (err) {
    // Refused decisions are audited too (an unknown id has no request to name).
    if (err instanceof AdminError && record !== undefined) await ctx.record({ ...fields(record), method, decision: null, outcome: 'denied', errorCode: err.code });
    throw err;
  }
}

const fields = (r: ApprovalRecord) => ({ agent: r.agent, user: r.user, tenant: r.tenant, chain: r.chain, task: r.task, upstream: r.upstream, target: r.tool, approvalId: r.id });
