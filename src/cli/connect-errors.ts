/**
 * How `warden connect` answers a client request it could not forward: a JSON-RPC error with a stable reason
 * (same codes as the gateway's own errors). Messages name the gateway and the cause, never a credential.
 */
import { JsonRpcCode } from '../protocol/errors.js';
import { HttpStatusError, InvalidResponseError } from '../upstream/http-transport.js';
import { CredentialError } from './connect-credentials.js';

/** The gateway refused the credential even after a refresh, or asked for one when none is configured. */
export class GatewayAuthError extends Error {
  override readonly name = 'GatewayAuthError';
}

export interface RpcErrorBody {
  code: number;
  message: string;
  data: { reason: string; status?: number };
}

const AUTH_FAILED = 'Authentication to the gateway failed';

export function connectError(err: unknown, gateway: URL): RpcErrorBody {
  if (err instanceof CredentialError || err instanceof GatewayAuthError) {
    return { code: JsonRpcCode.Unauthorized, message: `${AUTH_FAILED}: ${err.message}`, data: { reason: 'unauthenticated' } };
  }
  if (err instanceof HttpStatusError) {
    const status = err.code;
    if (status === 401) return { code: JsonRpcCode.Unauthorized, message: `${AUTH_FAILED}: the gateway refused the credential`, data: { reason: 'unauthenticated', status } };
    if (status === 403) return { code: JsonRpcCode.Forbidden, message: 'The gateway refused the request (HTTP 403: not allowed, or a scope is missing)', data: { reason: 'forbidden', status } };
    if (status === 404) return { code: JsonRpcCode.SessionNotFound, message: 'The gateway no longer knows this session (HTTP 404); restart the connection', data: { reason: 'session_not_found', status } };
    return { code: JsonRpcCode.UpstreamUnavailable, message: `The gateway answered HTTP ${status}`, data: { reason: 'gateway_error', status } };
  }
  if (err instanceof InvalidResponseError) {
    return { code: JsonRpcCode.UpstreamInvalidResult, message: 'The gateway sent an answer that is not JSON-RPC', data: { reason: 'gateway_invalid_response' } };
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') {
    return { code: JsonRpcCode.UpstreamUnavailable, message: `The gateway at ${gateway.origin} is unreachable (${code})`, data: { reason: 'gateway_unreachable' } };
  }
  return { code: JsonRpcCode.InternalError, message: 'warden connect could not forward the request', data: { reason: 'internal' } };
}
