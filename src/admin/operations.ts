/**
 * Operator routes, all under the admin scope: revocations through the same `revoke()` as `warden revoke`
 * (a revoked task is ended and its leases revoked through TaskService.end), listing tasks, ending one.
 */
import { WardenError } from '../protocol/errors.js';
import { isRevocationKind, revocationAuditFields, REVOCATION_KIND_NAMES, revoke, type RevokeResult } from '../revocation/index.js';
import type { TaskRecord, TaskState } from '../store/types.js';
import type { AdminContext, Answer } from './context.js';
import { AdminError, optionalText, queryChoice, queryLimit } from './http.js';

export async function revokeRoute(ctx: AdminContext, body: Record<string, unknown>): Promise<Answer> {
  ctx.requireScope(ctx.opts.adminScope);
  const { kind, value } = body;
  if (typeof kind !== 'string' || !isRevocationKind(kind)) throw new AdminError(400, 'invalid_request', `kind must be one of ${REVOCATION_KIND_NAMES.join(', ')}`);
  if (typeof value !== 'string' || value.trim() === '' || value.length > 512) throw new AdminError(400, 'invalid_request', `value must name the ${kind} to revoke`);
  const reason = optionalText(body, 'reason');
  const { opts } = ctx;
  let result: RevokeResult;
  try {
    result = await revoke(
      { revocations: opts.revocations, tasks: opts.taskStore, tokens: opts.tokens, endTask: (id, by) => opts.tasks.end(id, by, 'revoked'), ...(opts.now ? { now: opts.now } : {}) },
      { kind, value, by: ctx.actor, reason },
    );
  } catch (err) {
    // With kind and value checked, what revoke() refuses is a task or token it does not know.
    if (err instanceof WardenError && err.code === 'invalid_params') throw new AdminError(404, `unknown_${kind}`, kind === 'task' ? `No task ${value.trim()}` : 'No token with this id was issued by this gateway');
    throw err;
  }
  await recordRevocation(ctx, result);
  const { record } = result;
  return {
    status: 200,
    body: {
      revocation: { id: record.id, kind: record.kind, value: record.value, revokedAt: record.revokedAt, by: record.by, reason: record.reason, expiresAt: record.expiresAt },
      created: result.created,
      ...(result.task ? { task: { id: result.task.id, state: result.task.state, ended: result.taskEnded } } : {}),
    },
  };
}

/** `revoke/<kind>`, as `warden revoke` records it, with the caller's auth method. */
function recordRevocation(ctx: AdminContext, r: RevokeResult): Promise<void> {
  return ctx.record(revocationAuditFields(r));
}

const TASK_STATES = ['active', 'ended', 'revoked', 'all'] as const;

export async function listTasks(ctx: AdminContext, query: URLSearchParams): Promise<Answer> {
  ctx.requireScope(ctx.opts.adminScope);
  const state = queryChoice(query, 'state', TASK_STATES, 'active');
  const tasks = await ctx.opts.taskStore.list({ ...(state === 'all' ? {} : { state: state as TaskState }), limit: queryLimit(query) });
  return { status: 200, body: { tasks } };
}

export async function endTask(ctx: AdminContext, id: string): Promise<Answer> {
  ctx.requireScope(ctx.opts.adminScope);
  const conflict = (t: TaskRecord) => new AdminError(409, 'not_active', `Task ${t.id} is already ${t.state}`);
  const before = await ctx.opts.taskStore.get(id);
  if (before === undefined) throw new AdminError(404, 'unknown_task', `No task ${id}`);
  if (before.state !== 'active') throw conflict(before);
  let done: TaskRecord;
  try {
    done = await ctx.opts.tasks.end(id, ctx.actor);
  } catch (err) {
    const current = await ctx.opts.taskStore.get(id);
    if (current !== undefined && current.state !== 'active') throw conflict(current);
    throw err;
  }
  await ctx.record({
    agent: done.agent,
    user: done.user,
    tenant: done.tenant,
    chain: [],
    task: done.id,
    method: 'task/end',
    upstream: null,
    target: done.id,
    decision: { effect: 'deny', policyIds: [], reason: `task ${done.id} ended by ${ctx.actor}` },
    outcome: 'ok',
    errorCode: null,
  });
  return { status: 200, body: { id: done.id, state: done.state, endedAt: done.endedAt, endedBy: done.endedBy } };
}
