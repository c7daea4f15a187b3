/**
 * Routes one client request to the upstream that serves it, or answers it from the federated catalog.
 * Forwarding passes params and results through untouched except for the renamed tool or prompt and the
 * canonical form of paths and URIs (what was decided is what is sent). Only upstreams the caller may reach
 * (see RequestAuthorization.mayReach) are ever connected, listed or asked on its behalf.
 */
import { argsDigest } from '../audit/digest.js';
import { redactArguments } from '../audit/redact.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcRequest, Params } from '../protocol/jsonrpc.js';
import { stripModernMeta } from '../protocol/revisions.js';
import { canonicalUri, PolicyInputError } from '../policy/index.js';
import type { AuditDecision } from '../audit/event.js';
import type { UpstreamClient } from '../upstream/index.js';
import type { HoldHooks } from '../approvals/index.js';
import type { RequestAuthorization } from './authorize.js';
import { MODERN_REVISION } from '../protocol/revisions.js';
import { holderFor, InputRequired, withoutInputFields, type ApprovalPromptSettings } from './approval-prompt.js';
import { connectPrompt } from './connect-prompt.js';
import type { Asker } from './input-rounds.js';
import { checkParamHeaders } from './param-headers.js';
import { createdTaskId } from './task-routes.js';
import { callParts, forwardedParams, withProgressToken } from './forwarded-call.js';
import { collisionError, unknownName, validItems, type Entry, type ListKind } from './catalog.js';
import type { IntegrityGuard } from '../integrity/index.js';
import type { RequestOutbound } from './channel.js';
import type { GatewaySession } from './session.js';

/** What routing learned about a request, for its audit event. */
export interface RouteAudit {
  upstream: string | null;
  target: string | null;
  argsDigest: string | null;
  arguments: string | null;
  upstreamStatus: string | null;
  decision: AuditDecision | null;
  /** An injected secret's value was found in what the upstream sent back, and replaced before it went on. */
  redacted?: boolean;
  /** Leases the upstream hop used. */
  leaseIds?: readonly string[];
  /** The call was answered with an input-required result (an approval prompt) instead of running. */
  inputRequired?: boolean;
  /** Finding ids in the tool's result (integrity.scanResults). */
  resultFindings?: readonly string[];
  /** The intent record committed before the call was forwarded (strict audit). */
  intentId?: string;
}

/** How `audit.arguments` wants a call's arguments kept: nothing, a digest, or a digest plus a redacted copy. */
export type ArgumentsMode = 'none' | 'digest' | 'redacted';

export interface RouteContext {
  argumentsMode: ArgumentsMode;
  session: GatewaySession;
  out: RequestOutbound;
  timeoutMs: (upstream: string) => number;
  /** The decide step for this request's principal. */
  authz: RequestAuthorization;
  /** Re-checks the caller while a call is held for approval (revocation, its task): throws to end the hold. */
  stillAllowed?: () => Promise<void>;
  /** In-protocol approval prompts (config approvals.prompt), where configured. */
  prompt?: ApprovalPromptSettings | undefined;
  /** Tool integrity (pins, quarantine, findings), where configured. */
  integrity?: IntegrityGuard | undefined;
  /** Records findings in a tool's result for the task (`context.taint`); set when integrity.scanResults is on. */
  scanResult?: ((entry: Entry, result: Record<string, unknown>, audit: RouteAudit) => void) | undefined;
  /** Filled in while routing, for the audit event. */
  audit: RouteAudit;
  /** A stateless request's `Mcp-Param-*` headers, checked against the arguments of the tool that marks them. */
  paramHeaders?: Readonly<Record<string, string>>;
  /** A stateless request's multi round-trip handling (input-rounds.ts): absent for session requests. */
  rounds?: RoundsContext;
  /** Runs just before a request is forwarded (strict audit: commits its intent record); throws to stop it. */
  beforeForward?: () => Promise<void>;
}

/** How one stateless request runs its upstream call: first try, or the retry of a parked one. */
export interface RoundsContext {
  /** Runs the call; an upstream question parks it and answers input-required. */
  first(start: (ask: Asker) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>>;
  /** Present when the request carries a parked call's requestState: answers it and goes on with that call. */
  resume?: () => Promise<Record<string, unknown>>;
  /** A 2026-07-28 upstream's questions, put to the client with a sealed state. */
  relay(upstream: string, result: Record<string, unknown>): Record<string, unknown>;
  /** The reserved `_meta` a 2026-07-28 upstream gets with this request (the client's capabilities, its log level). */
  upstreamMeta: Record<string, unknown>;
  /** `inputResponses` a request brought without a `requestState`: passed to a 2026-07-28 upstream as they are. */
  freshResponses?: Record<string, unknown>;
  /** Present when the request answers a 2026-07-28 upstream's questions: that upstream, its state, the answers. */
  continued?: { upstream: string; upstreamState?: string; inputResponses: unknown };
}

/** Rounds of questions a 2026-07-28 upstream may ask a session client in one call. */
const MAX_ROUNDS = 8;

const LISTS: Record<ListKind, { method: string; key: string; capability: string }> = {
  tools: { method: 'tools/list', key: 'tools', capability: 'tools' },
  prompts: { method: 'prompts/list', key: 'prompts', capability: 'prompts' },
  resources: { method: 'resources/list', key: 'resources', capability: 'resources' },
  resourceTemplates: { method: 'resources/templates/list', key: 'resourceTemplates', capability: 'resources' },
};
const MAX_PAGES = 100;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalidResult(upstream: string, method: string): WardenError {
  return new WardenError('upstream_invalid_result', `Upstream "${upstream}" returned an invalid ${method} result`, JsonRpcCode.UpstreamInvalidResult);
}

/** Fetches every page of one list from one upstream. */
async function listAll(ctx: RouteContext, client: UpstreamClient, kind: ListKind): Promise<Record<string, unknown>[]> {
  const { method, key } = LISTS[kind];
  const items: unknown[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await client.request(method, cursor ? { cursor } : undefined, { timeoutMs: ctx.timeoutMs(client.name), signal: ctx.out.signal });
    if (!Array.isArray(r[key])) throw invalidResult(client.name, method);
    items.push(...filtered(ctx, ctx.session.redact(client.name, r[key])));
    cursor = typeof r.nextCursor === 'string' && r.nextCursor.length > 0 ? r.nextCursor : undefined;
    if (!cursor) break;
  }
  return validItems(kind, items);
}

/** The upstreams (of `among`, else all) the caller may reach, in order. */
const reachable = (ctx: RouteContext, among: readonly string[] = ctx.session.order): string[] => among.filter((n) => ctx.authz.mayReach(n));

/**
 * Makes sure the catalog holds `kind` from every upstream (of `among`) the caller may reach and that answers;
 * the others are left out, and ones it may not reach are never contacted.
 */
function load(ctx: RouteContext, kind: ListKind, refresh = false, among?: readonly string[]): Promise<void> {
  return loadFrom(ctx, kind, reachable(ctx, among), refresh);
}

/**
 * Lists `kind` from every configured upstream, whatever the caller may reach: only for the operator's survey
 * (`warden doctor`, the start-up report), which runs in a session of nobody that is closed afterwards.
 */
export function loadEveryUpstream(ctx: RouteContext, kind: ListKind): Promise<void> {
  return loadFrom(ctx, kind, ctx.session.order, false);
}

async function loadFrom(ctx: RouteContext, kind: ListKind, names: readonly string[], refresh: boolean): Promise<void> {
  const { session } = ctx;
  const listed = new Map<string, Record<string, unknown>[]>();
  await Promise.all(
    names.map(async (name) => {
      if (!refresh && session.catalog.has(name, kind)) return;
      const client = session.upstream(name);
      try {
        await client.ready();
        listed.set(name, LISTS[kind].capability in client.serverCapabilities ? await session.connectionList(name, kind, () => listAll(ctx, client, kind), refresh) : []);
      } catch (err) {
        // One unreachable or lying upstream makes only its own items unavailable; a full process table is
        // the gateway's own limit, answered as such (503, retry) rather than as an empty list.
        if (err instanceof WardenError && (err.code === 'cancelled' || err.code === 'process_limit')) throw err;
      }
    }),
  );
  if (listed.size === 0) return;
  // Tool integrity: every definition listed together is assessed together (each sees the others' names).
  const pinned = kind === 'tools' ? 'tool' : kind === 'prompts' ? 'prompt' : undefined;
  const assessed = ctx.integrity && pinned ? await ctx.integrity.assess(pinned, listed, (u, n) => session.catalog.exposedName(u, n)) : undefined;
  for (const [name, items] of listed) session.catalog.set(name, kind, items, assessed?.get(name));
}

/**
 * Lists one kind from one upstream again, at once, outside any client request: an upstream said its list
 * changed, or it reconnected, so its definitions are checked against their pins now (not at the next list).
 */
export async function relist(
  session: GatewaySession,
  kind: 'tools' | 'prompts',
  upstream: string,
  opts: Pick<RouteContext, 'timeoutMs' | 'authz' | 'integrity'>,
): Promise<void> {
  const out: RequestOutbound = { send: () => false, signal: new AbortController().signal };
  const audit: RouteAudit = { upstream: null, target: null, argsDigest: null, arguments: null, upstreamStatus: null, decision: null };
  await loadFrom({ ...opts, session, out, argumentsMode: 'none', audit }, kind, [upstream], true);
}

async function list(ctx: RouteContext, kind: ListKind): Promise<Record<string, unknown>> {
  await load(ctx, kind);
  const unreached = ctx.session.order.filter((n) => !ctx.authz.mayReach(n));
  return { [LISTS[kind].key]: ctx.authz.filter(kind, await unquarantined(ctx, kind, ctx.session.catalog.entries(kind, ctx.session.order)), unreached).map((e) => e.item) };
}

/** The entries whose definitions may be shown: a quarantined (changed, unapproved, rejected) one is hidden. */
async function unquarantined(ctx: RouteContext, kind: ListKind, entries: Entry[]): Promise<Entry[]> {
  const guard = ctx.integrity;
  if (!guard || (kind !== 'tools' && kind !== 'prompts')) return entries;
  await guard.fresh();
  const pinned = kind === 'tools' ? 'tool' : 'prompt';
  return entries.filter((e) => guard.visible(e.upstream, pinned, e.original, e.integrity));
}

/** Refuses a call of a quarantined tool or prompt (recorded as a refusal with the reason). */
async function checkIntegrity(ctx: RouteContext, kind: 'tools' | 'prompts', entry: Entry): Promise<void> {
  const guard = ctx.integrity;
  if (!guard) return;
  await guard.fresh();
  const refusal = guard.refusal(entry.upstream, kind === 'tools' ? 'tool' : 'prompt', entry.original, entry.integrity);
  if (refusal) throw refusal;
}

async function resolveName(ctx: RouteContext, kind: 'tools' | 'prompts', exposed: unknown) {
  if (typeof exposed !== 'string' || exposed.length === 0) throw new WardenError('invalid_params', `"name" is required`, JsonRpcCode.InvalidParams);
  // The name as asked for, until it resolves: an unknown or refused name is recorded (bounded), so probing shows.
  ctx.audit.target = exposed;
  const { session } = ctx;
  // Only the upstreams whose prefix the name carries are asked, and only those the caller may reach.
  const owners = session.catalog.possibleOwners(exposed, session.order);
  const open = reachable(ctx, owners);
  if (open.length === 0 && owners.length > 0) {
    // Refused unlisted: the audit names the tool as the client asked for it.
    if (owners.length === 1) ctx.audit.upstream = owners[0]!;
    throw ctx.authz.unreachable(owners.length === 1 ? owners[0] : undefined);
  }
  await load(ctx, kind, false, open);
  let entry = session.catalog.resolveName(kind, exposed, session.order);
  if (!entry && session.catalog.mayRefresh(kind)) {
    // The upstream may have added it since we listed: look once more before refusing (at most once a second,
    // so a client sending unknown names cannot multiply traffic to every upstream).
    await load(ctx, kind, true, open);
    entry = session.catalog.resolveName(kind, exposed, session.order);
  }
  const collision = entry ? undefined : session.catalog.collision(kind, exposed, session.order);
  if (collision !== undefined) throw collisionError(collision);
  if (!entry) {
    // The name may belong to an upstream whose list could not be fetched: say so, rather than "unknown".
    const down = open.find((u) => !session.catalog.has(u, kind));
    if (down !== undefined) {
      ctx.audit.upstream = down;
      // Down because the caller's user has not connected their own account to it: they are told how to.
      const refusal = session.upstream(down).lastRefusal;
      if (refusal !== undefined) throw refusal;
      throw new WardenError('upstream_unavailable', `Upstream "${down}" is unavailable, so ${exposed} cannot be resolved`, JsonRpcCode.UpstreamUnavailable);
    }
    throw unknownName(kind, exposed);
  }
  ctx.audit.upstream = entry.upstream;
  ctx.audit.target = entry.original;
  await checkIntegrity(ctx, kind, entry);
  return entry;
}

/** A resource URI from the client in canonical form; one with no single meaning is refused (a deny). */
function canonicalResource(ctx: RouteContext, uri: unknown, template = false): string {
  if (typeof uri !== 'string' || uri.length === 0) throw new WardenError('invalid_params', `"uri" is required`, JsonRpcCode.InvalidParams);
  try {
    return canonicalUri(uri, { template });
  } catch (err) {
    if (err instanceof PolicyInputError) throw ctx.authz.refuseInput(err);
    throw err;
  }
}

/** The upstream serving a canonical resource URI, among those the caller may reach. */
async function resolveUri(ctx: RouteContext, uri: string): Promise<string> {
  const { session } = ctx;
  if (reachable(ctx).length === 0) throw ctx.authz.unreachable();
  await Promise.all([load(ctx, 'resources'), load(ctx, 'resourceTemplates')]);
  const found = session.catalog.resolveUri(uri, session.order);
  if (found) return found;
  // A URI no list mentions: if exactly one reachable upstream serves resources, it is the only possible owner.
  const owners = reachable(ctx).filter((n) => 'resources' in session.upstream(n).serverCapabilities);
  if (owners.length === 1) return owners[0]!;
  throw new WardenError('unknown_resource', `Resource not found: ${uri}`, -32002);
}

/** Forwards to one upstream as an in-flight request of this session, and checks the result's shape. */
async function forward(ctx: RouteContext, upstream: string, method: string, params: Params | undefined, check: (r: Record<string, unknown>) => boolean) {
  ctx.audit.upstream = upstream;
  // Nothing reaches the upstream before this returns: with strict audit, the intent record is durable first.
  await ctx.beforeForward?.();
  const client = ctx.session.upstream(upstream);
  let base = withoutInputFields(params);
  // Which revision the upstream speaks is known once connected (a failure surfaces from the call itself).
  if (ctx.rounds !== undefined && !client.isReady) await client.ready().catch(() => undefined);
  if (ctx.rounds !== undefined && client.protocolVersion === MODERN_REVISION) {
    base = { ...base, _meta: { ...(isObject(base?._meta) ? base._meta : {}), ...ctx.rounds.upstreamMeta } };
    if (ctx.rounds.freshResponses !== undefined && ctx.rounds.continued === undefined) base.inputResponses = ctx.rounds.freshResponses;
  }
  const call = (p: Params | undefined, out: RequestOutbound) =>
    ctx.session.track(
      upstream,
      out,
      p,
      (forwarded, tag) => client.request(method, forwarded, { timeoutMs: ctx.timeoutMs(upstream), signal: out.signal, tag }),
      () => (ctx.audit.redacted = true),
    );
  const { rounds } = ctx;
  const cont = rounds?.continued;
  if (cont !== undefined && cont.upstream !== upstream) throw new WardenError('invalid_params', 'requestState is not valid: it belongs to another request', JsonRpcCode.InvalidParams);
  let result: Record<string, unknown>;
  try {
    if (rounds === undefined || cont !== undefined) result = await call(cont ? answered(base, cont.upstreamState, cont.inputResponses) : base, ctx.out);
    else if (rounds.resume) result = await rounds.resume();
    // The gateway's own input-required answer: its questions were redacted on their way out of the upstream.
    else result = await rounds.first((ask) => call(base, { send: (m) => ctx.out.send(m), signal: ctx.out.signal, ask }));
    if (result.resultType === 'input_required' && rounds !== undefined && client.protocolVersion !== MODERN_REVISION) return result;
    // A 2026-07-28 upstream asks by answering input-required: a stateless client gets the questions; a session
    // client is asked each on its stream, and the call is retried with the answers.
    for (let round = 1; result.resultType === 'input_required' && client.protocolVersion === MODERN_REVISION; round++) {
      result = filtered(ctx, ctx.session.redact(upstream, result));
      if (rounds !== undefined) return rounds.relay(upstream, result);
      if (round > MAX_ROUNDS) throw new WardenError('upstream_invalid_result', `Upstream "${upstream}" asked more than ${MAX_ROUNDS} rounds of questions`, JsonRpcCode.UpstreamInvalidResult);
      const answers = await ctx.session.answerInputRequests(upstream, result.inputRequests, ctx.out);
      result = await call(answered(base, result.requestState, answers), ctx.out);
    }
  } catch (err) {
    ctx.audit.upstreamStatus = hopStatus(err);
    throw filtered(ctx, ctx.session.redactError(upstream, err));
  }
  // A session client of a 2026-07-28 upstream gets a result in its own revision's shape.
  if (rounds === undefined && client.protocolVersion === MODERN_REVISION) delete result.resultType;
  result = filtered(ctx, ctx.session.redact(upstream, result));
  if (!check(result)) {
    ctx.audit.upstreamStatus = 'invalid';
    throw invalidResult(upstream, method);
  }
  ctx.audit.upstreamStatus = 'ok';
  ctx.audit.leaseIds = ctx.session.leaseIds(upstream);
  return result;
}

/** The params of a retry that answers an upstream's questions. */
function answered(base: Params | undefined, state: unknown, responses: unknown): Params {
  return { ...base, ...(typeof state === 'string' ? { requestState: state } : {}), inputResponses: isObject(responses) ? responses : {} };
}

/** The filter step: what an upstream sent, with injected secret values replaced; the audit learns that it happened. */
function filtered<T>(ctx: RouteContext, r: { value: T; redacted: boolean }): T {
  if (r.redacted) ctx.audit.redacted = true;
  return r.value;
}

/** How an upstream hop ended, for the audit record. */
function hopStatus(err: unknown): string {
  if (!(err instanceof WardenError)) return 'error';
  switch (err.code) {
    case 'upstream_timeout':
      return 'timeout';
    case 'upstream_invalid_result':
      return 'invalid';
    case 'cancelled':
      return 'cancelled';
    case 'upstream_unavailable':
    case 'upstream_crashed':
      return 'unavailable';
    default:
      return 'error';
  }
}

function recordArguments(ctx: RouteContext, args: unknown): void {
  if (ctx.argumentsMode === 'none') return;
  ctx.audit.argsDigest = argsDigest(args ?? {});
  if (ctx.argumentsMode === 'redacted') ctx.audit.arguments = redactArguments(args ?? {});
}

/** Decides, and records the arguments as forwarded (normalised) whatever the decision, for the audit digest. */
async function checkRecording(
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
function withArguments(params: Params, args: Record<string, unknown> | undefined): Params {
  return args === undefined ? params : { ...params, arguments: args };
}

const hasArray = (key: string) => (r: Record<string, unknown>) => Array.isArray(r[key]);
const anything = () => true;

/** tools/call: resolve, decide (perhaps hold for approval), forward. */
async function callTool(ctx: RouteContext, req: JsonRpcRequest, params: Params | undefined): Promise<Record<string, unknown>> {
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
