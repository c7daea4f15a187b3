/**
 * The tools/call params as the upstream receives them, built by one function for both uses: the approval
 * digest binds exactly these params, and the forward sends exactly these, so an approved call and the
 * forwarded call are the same request. The only part not bound is the client's `_meta.progressToken`: the
 * gateway never forwards it (GatewaySession.track puts its own token in its place) and it changes nothing
 * the upstream does, only where progress notifications are routed back. Everything else the client put in
 * the params (`_meta` keys, a `task` augmentation, fields a later revision adds) is bound and forwarded.
 * The gateway-only fields of an approval prompt's retry (`requestState`, `inputResponses`) are neither.
 */
import type { Params } from '../protocol/jsonrpc.js';
import { withoutInputFields } from './approval-prompt.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface CallParts {
  /** Every param but `name`, `arguments`, the prompt's input fields and `_meta.progressToken`. */
  rest: Record<string, unknown>;
  /** The client's progress token, when it sent one. */
  progressToken?: string | number;
}

/** Splits a tools/call's params into what is bound with the call and the client's progress token. */
export function callParts(params: Params | undefined): CallParts {
  const { name: _name, arguments: _args, ...rest } = withoutInputFields(params) ?? {};
  const meta = rest._meta;
  if (!isObject(meta) || !('progressToken' in meta)) return { rest };
  const { progressToken, ...others } = meta;
  const { _meta: _dropped, ...without } = rest;
  const bound = Object.keys(others).length > 0 ? { ...without, _meta: others } : without;
  return typeof progressToken === 'string' || typeof progressToken === 'number' ? { rest: bound, progressToken } : { rest: bound };
}

/** The params the upstream receives (without the progress token): `rest`, its own tool name, the arguments as decided. */
export function forwardedParams(rest: Record<string, unknown>, upstreamName: string, args: Record<string, unknown> | undefined): Record<string, unknown> {
  return { name: upstreamName, ...(args === undefined ? {} : { arguments: args }), ...rest };
}

/** The forwarded params with the client's progress token back in `_meta` (track replaces it with the gateway's own). */
export function withProgressToken(params: Record<string, unknown>, token: string | number | undefined): Record<string, unknown> {
  if (token === undefined) return params;
  const meta = isObject(params._meta) ? params._meta : {};
  return { ...params, _meta: { ...meta, progressToken: token } };
}
