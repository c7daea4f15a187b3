/** The tools/call route: resolve, record the arguments, decide (perhaps hold for approval), forward. */
import { argsDigest } from '../audit/digest.js';
import { redactArguments } from '../audit/redact.js';
import type { HoldHooks } from '../approvals/index.js';
import type { JsonRpcRequest, Params } from '../protocol/jsonrpc.js';
import { holderFor, InputRequired } from './approval-prompt.js';
import { callParts, forwardedParams, withProgressToken } from './forwarded-call.js';
import { anything, forward, isObject } from './forward.js';
import { checkParamHeaders } from './param-headers.js';
import { resolveName } from './resolve-target.js';
import type { RouteContext } from './route-context.js';
import { createdTaskId } from './task-routes.js';

function recordArguments(ctx: RouteContext, args: unknown): void {
  if (ctx.argumentsMode === 'none') return;
  ctx.audit.argsDigest = argsDigest(args ?? {});
  if (ctx.argumentsMode === 'redacted') ctx.audit.arguments = redactArguments(args ?? {});
}

/** Decides, and records the arguments as forwarded (normalised) whatever the decision, for the audit digest. */
export async function checkRecording(
  ctx: RouteContext,
  check: () => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>,
  raw: unknown,
): Promise<Record<string, unknown> | undefined> {
  try {
    return await check();
  } finally {
    recordArguments(ctx, ctx.authz.forwarded ?? raw);
  }
}

/** While a call waits for approval, a client that asked for progress hears why it waits. */
function progressWhileHeld(ctx: RouteContext, params: Params | undefined): HoldHooks['waiting'] {
  const token = isObject(params?._meta) ? params._meta.progressToken : undefined;
  if (typeof token !== 'string' && typeof token !== 'number') return undefined;
  return (r, waitedMs) =>
    void ctx.out.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: Math.floor(waitedMs / 1000), message: `waiting for human approval ${r.id}` } });
}

/** The params with the arguments as decided (paths normalised), so the upstream acts on what was allowed. */
export function withArguments(params: Params, args: Record<string, unknown> | undefined): Params {
  return args === undefined ? params : { ...params, arguments: args };
}

/** tools/call: resolve, decide (perhaps hold for approval), forward. */
export async function callTool(ctx: RouteContext, req: JsonRpcRequest, params: Params | undefined): Promise<Record<string, unknown>> {
  const entry = await resolveName(ctx, 'tools', params?.name);
  ctx.audit.upstream = entry.upstream;
  ctx.audit.target = entry.original;
  if (ctx.paramHeaders) checkParamHeaders(entry.item.inputSchema, params?.arguments, ctx.paramHeaders);
  // The retry of a parked call goes on with that call, decided (and approved, if it had to be) on its first try.
  if (ctx.rounds?.resume || ctx.rounds?.continued) {
    const prepared = ctx.authz.prepareArguments(entry.upstream, params?.arguments) as Record<string, unknown> | undefined;
    return forward(ctx, entry.upstream, 'tools/call', forwardedParams(callParts(params).rest, entry.original, prepared), anything);
  }
  const hooks = { signal: ctx.out.signal, waiting: progressWhileHeld(ctx, params), ...(ctx.stillAllowed ? { guard: ctx.stillAllowed } : {}) };
  const hold = holderFor(ctx.prompt, ctx.session, ctx.out, req.params);
  // What is bound to an approval is what is forwarded: both are built from these parts (forwarded-call.ts).
  const { rest, progressToken } = callParts(params);
  const conceal = (p: Record<string, unknown>) => ctx.session.concealSecrets(p);
  let args: Record<string, unknown> | undefined;
  try {
    args = await checkRecording(ctx, () => ctx.authz.checkCall(entry, ctx.authz.prepareArguments(entry.upstream, params?.arguments), hooks, { rest, hold, conceal }), params?.arguments);
  } catch (err) {
    if (!(err instanceof InputRequired)) throw err;
    ctx.audit.inputRequired = true;
    return err.result;
  }
  // A task-augmented call answers with a task handle instead of content: the task is this session's.
  const ok = (r: Record<string, unknown>) => Array.isArray(r.content) || createdTaskId(r) !== undefined;
  const result = await forward(ctx, entry.upstream, 'tools/call', withProgressToken(forwardedParams(rest, entry.original, args), progressToken), ok);
  ctx.scanResult?.(entry, result, ctx.audit);
  const task = createdTaskId(result);
  if (task !== undefined) ctx.session.tasks.record(task, entry);
  return result;
}
