/**
 * Routes one client request to the upstream that serves it, or answers it from the federated catalog.
 * Forwarding passes params and results through untouched except for the renamed tool or prompt and the
 * canonical form of paths and URIs (what was decided is what is sent). Only upstreams the caller may reach
 * (see RequestAuthorization.mayReach) are ever connected, listed or asked on its behalf.
 */
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcRequest, Params } from '../protocol/jsonrpc.js';
import { MODERN_REVISION, stripModernMeta } from '../protocol/revisions.js';
import { connectPrompt } from './connect-prompt.js';
import type { Entry } from './catalog.js';
import { anything, forward, hasArray, isObject } from './forward.js';
import { list, load, reachable } from './list-routes.js';
import { canonicalResource, resolveName, resolveUri } from './resolve-target.js';
import type { RouteContext } from './route-context.js';
import { callTool, checkRecording, withArguments } from './tool-call.js';

/* The list, resolve, forward and tools/call steps live in their own files; re-exported for the gateway's imports. */
export { loadEveryUpstream, relist } from './list-routes.js';
export type { ArgumentsMode, RoundsContext, RouteAudit, RouteContext } from './route-context.js';

export function route(ctx: RouteContext, req: JsonRpcRequest): Promise<Record<string, unknown>> {
  return routed(ctx, req).catch((err: unknown) => {
    // The user has not connected the upstream (or their connection is gone): the link, as the client can show it.
    if (!(err instanceof WardenError && err.code === 'connect_required')) throw err;
    const answer = connectPrompt(err, ctx.session, req.params);
    if ('error' in answer) throw answer.error;
    ctx.audit.inputRequired = true;
    return answer.result;
  });
}

async function routed(ctx: RouteContext, req: JsonRpcRequest): Promise<Record<string, unknown>> {
  const params = stripModernMeta(req.params);
  switch (req.method) {
    case 'ping':
      return {};
    case 'tools/list':
      return list(ctx, 'tools');
    case 'prompts/list':
      return list(ctx, 'prompts');
    case 'resources/list':
      return list(ctx, 'resources');
    case 'resources/templates/list':
      return list(ctx, 'resourceTemplates');
    case 'tools/call':
      return callTool(ctx, req, params);
    case 'prompts/get': {
      const entry = await resolveName(ctx, 'prompts', params?.name);
      ctx.audit.upstream = entry.upstream;
      ctx.audit.target = entry.original;
      const args = await checkRecording(ctx, () => ctx.authz.check('get_prompt', 'prompts', entry, ctx.authz.prepareArguments(entry.upstream, params?.arguments)), params?.arguments);
      return forward(ctx, entry.upstream, 'prompts/get', withArguments({ ...params, name: entry.original }, args), hasArray('messages'));
    }
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe': {
      // Decided and forwarded in canonical form: the upstream reads exactly the resource the policy allowed.
      let uri = canonicalResource(ctx, params?.uri);
      ctx.audit.target = uri;
      const upstream = await resolveUri(ctx, uri);
      ctx.audit.upstream = upstream;
      uri = ctx.authz.prepareUri(upstream, uri);
      ctx.audit.target = uri;
      // Unsubscribing only stops updates: it needs no permission.
      if (req.method !== 'resources/unsubscribe') ctx.authz.checkResource('read_resource', upstream, uri);
      // The upstream holds one subscription per connection: while another session on it still wants the
      // updates, this session's unsubscribe ends only its own (it stops relaying), not theirs.
      if (req.method === 'resources/unsubscribe' && ctx.session.subscribedByOthers(upstream, uri)) {
        ctx.session.noteSubscription(upstream, uri, false);
        return {};
      }
      const result = await forward(ctx, upstream, req.method, { ...params, uri }, req.method === 'resources/read' ? hasArray('contents') : anything);
      // A shared connection relays an update only to the sessions that subscribed to it.
      if (req.method !== 'resources/read') ctx.session.noteSubscription(upstream, uri, req.method === 'resources/subscribe');
      return result;
    }
    case 'completion/complete':
      return complete(ctx, params);
    case 'tasks/get':
    case 'tasks/result':
    case 'tasks/cancel':
    case 'tasks/update': {
      const { tool } = ctx.session.tasks.origin(params);
      ctx.audit.upstream = tool.upstream;
      ctx.audit.target = tool.original;
      decideLikeItsCall(ctx, tool);
      return forward(ctx, tool.upstream, req.method, params, anything);
    }
    case 'tasks/list':
      return listTasks(ctx, params);
    case 'logging/setLevel':
      // The shared stateless connections belong to no one client: one client may not set everyone's level.
      if (ctx.session.shared) return {};
      await Promise.all(
        // A connection shared by everyone keeps its level: one client may not set it for the others.
        reachable(ctx).filter((name) => !ctx.session.sharedByAll(name)).map(async (name) => {
          const client = ctx.session.upstream(name);
          await client.ready().catch(() => undefined);
          // 2026-07-28 has no setLevel: the level goes in the _meta of each later request of this session.
          if (client.isReady && client.protocolVersion === MODERN_REVISION) client.setLogLevel(params?.level);
          else if (client.isReady && 'logging' in client.serverCapabilities) {
            await client.request('logging/setLevel', params, { timeoutMs: ctx.timeoutMs(name) }).catch(() => undefined);
          }
        }),
      );
      return {};
    default: {
      // Echoed only as far as any real method name could go: a 3 MB name is not sent back whole.
      const shown = req.method.length > 128 ? `${req.method.slice(0, 128)}… (${req.method.length} characters)` : req.method;
      throw new WardenError('method_not_found', `Method not found: ${shown}`, JsonRpcCode.MethodNotFound, 200);
    }
  }
}

/**
 * A task is used under the decision its tool gets now: denied, the task is refused; needing approval, it
 * goes ahead (the call that created it was approved: a task exists only after its call ran).
 */
function decideLikeItsCall(ctx: RouteContext, tool: Entry): void {
  try {
    ctx.authz.check('call_tool', 'tools', tool);
  } catch (err) {
    if (!(err instanceof WardenError && err.code === 'approval_required')) throw err;
  }
}

/** This session's tasks, from each upstream holding some, and only those this session created there. */
async function listTasks(ctx: RouteContext, params: Params | undefined): Promise<Record<string, unknown>> {
  const tasks: unknown[] = [];
  for (const [upstream, ids] of ctx.session.tasks.byUpstream()) {
    const r = await forward(ctx, upstream, 'tasks/list', params, hasArray('tasks'));
    for (const t of r.tasks as unknown[]) if (isObject(t) && ids.has(t.taskId as string)) tasks.push(t);
  }
  return { tasks };
}

async function complete(ctx: RouteContext, params: Params | undefined): Promise<Record<string, unknown>> {
  const ref = params?.ref as Record<string, unknown> | undefined;
  const check = (r: Record<string, unknown>) => isObject(r.completion);
  if (ref?.type === 'ref/prompt') {
    const entry = await resolveName(ctx, 'prompts', ref.name);
    ctx.audit.target = entry.original;
    ctx.authz.check('complete', 'prompts', entry);
    return forward(ctx, entry.upstream, 'completion/complete', { ...params, ref: { ...ref, name: entry.original } }, check);
  }
  if (ref?.type === 'ref/resource') {
    // A template (or a URI): canonical, its `{...}` expressions kept.
    const uri = canonicalResource(ctx, ref.uri, true);
    ctx.audit.target = uri;
    await load(ctx, 'resourceTemplates');
    const templates = ctx.session.catalog.entries('resourceTemplates', ctx.session.order);
    const owner = templates.find((e) => e.original === ref.uri || e.original === uri)?.upstream ?? (await resolveUri(ctx, uri));
    ctx.authz.checkResource('complete', owner, uri);
    const listed = templates.find((e) => e.upstream === owner && (e.original === ref.uri || e.original === uri))?.original ?? uri;
    return forward(ctx, owner, 'completion/complete', { ...params, ref: { ...ref, uri: listed } }, check);
  }
  throw new WardenError('invalid_params', 'completion/complete needs a ref of type ref/prompt or ref/resource', JsonRpcCode.InvalidParams);
}
