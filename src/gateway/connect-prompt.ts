/**
 * How a call learns that its user must connect an upstream account first (docs/user-oauth.md): the link to
 * the Connections page, in the form the client can show.
 * - 2025-11-25 sessions whose client declared URL elicitation: the `-32042` URL-elicitation-required error
 *   (the client opens the link, then retries).
 * - 2026-07-28 requests declaring URL elicitation: an input-required result with the link; a retry after
 *   connecting simply runs (no requestState is needed: nothing is held).
 * - Anyone else: the `connect_required` error (-32013) whose message and data carry the link.
 * Only the link travels: the code and tokens go between the browser, the gateway and the server.
 */
import { randomUUID } from 'node:crypto';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { Params } from '../protocol/jsonrpc.js';
import { META_CLIENT_CAPABILITIES } from '../protocol/revisions.js';
import type { GatewaySession } from './session.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const declaresUrl = (caps: unknown) => isObject(caps) && isObject(caps.elicitation) && isObject(caps.elicitation.url);

/** The key of the connect prompt in `inputRequests`. */
export const CONNECT_INPUT_KEY = 'connect';

/** The answer for a call refused with `connect_required`: a result (input-required) or an error to throw. */
export function connectPrompt(err: WardenError, session: GatewaySession, rawParams: Params | undefined): { result: Record<string, unknown> } | { error: WardenError } {
  const url = typeof err.data?.url === 'string' ? err.data.url : undefined;
  if (url === undefined) return { error: err };
  if (session.shared) {
    const meta = rawParams?._meta;
    if (!(isObject(meta) && declaresUrl(meta[META_CLIENT_CAPABILITIES]))) return { error: err };
    return { result: { resultType: 'input_required', inputRequests: { [CONNECT_INPUT_KEY]: { method: 'elicitation/create', params: { mode: 'url', message: err.message, url } } } } };
  }
  if (!declaresUrl(session.init.clientCapabilities)) return { error: err };
  const elicitations = [{ mode: 'url', elicitationId: randomUUID(), url, message: err.message }];
  return { error: new WardenError('connect_required', err.message, JsonRpcCode.UrlElicitationRequired, 200, { ...err.data, elicitations }) };
}
