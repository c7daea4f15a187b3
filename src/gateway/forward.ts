/** The forward and filter steps: one request to one upstream, its result checked and its secrets replaced. */
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { Params } from '../protocol/jsonrpc.js';
import { MODERN_REVISION } from '../protocol/revisions.js';
import { withoutInputFields } from './approval-prompt.js';
import type { RequestOutbound } from './channel.js';
import type { RouteContext } from './route-context.js';

/** Rounds of questions a 2026-07-28 upstream may ask a session client in one call. */
const MAX_ROUNDS = 8;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function invalidResult(upstream: string, method: string): WardenError {
  return new WardenError('upstream_invalid_result', `Upstream "${upstream}" returned an invalid ${method} result`, JsonRpcCode.UpstreamInvalidResult);
}

/** Forwards to one upstream as an in-flight request of this session, and checks the result's shape. */
export async function forward(ctx: RouteContext, upstream: string, method: string, params: Params | undefined, check: (r: Record<string, unknown>) => boolean) {
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
export function filtered<T>(ctx: RouteContext, r: { value: T; redacted: boolean }): T {
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

export const hasArray = (key: string) => (r: Record<string, unknown>) => Array.isArray(r[key]);
export const anything = () => true;
