/**
 * Typed gateway errors. Each carries a stable `code` (for logs, audit and tests), the JSON-RPC error code
 * and the HTTP status it maps to. Messages are written for the client and never contain a secret or a token.
 */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Implementation-defined server errors (-32000 to -32099). */
  UpstreamUnavailable: -32001,
  UpstreamTimeout: -32002,
  UpstreamInvalidResult: -32003,
  AuditUnavailable: -32004,
  SessionNotFound: -32005,
  Forbidden: -32006,
  Unauthorized: -32007,
  PolicyDenied: -32008,
  ApprovalRequired: -32009,
  /** A resource limit refused the request (sessions, calls, rate); data.retryAfter says when to try again. */
  LimitExceeded: -32010,
  /** The store did not answer within its deadline: the request was refused (HTTP 503, retry elsewhere). */
  StoreUnavailable: -32015,
  /** The replica is shutting down (SIGTERM drain): the request was not run; send it to another replica. */
  ShuttingDown: -32016,
  /** Every upstream process the gateway may run (limits.maxProcesses) is busy. */
  ProcessLimit: -32017,
  /** The shared session store could not be read or written: the session request is refused. */
  SessionStoreUnavailable: -32018,
  /** The call needs the user's own connection to an OAuth upstream; data.url is the link that makes it. */
  ConnectRequired: -32013,
  /** The user's upstream credential could not be obtained or refreshed (the authorization server refused or is down). */
  UserCredentialUnavailable: -32014,
  /** MCP 2025-11-25: the client must send the user to a URL (URL-mode elicitation) before the request can succeed. */
  UrlElicitationRequired: -32042,
  /** A tool or prompt whose definition differs from its pin (or is not yet pinned, or was rejected): held until an operator approves it. */
  DefinitionQuarantined: -32011,
  /** A definition could not be checked against its pin (the store did not answer): refused, fail closed. */
  IntegrityUnavailable: -32012,
  HeaderMismatch: -32020,
  /** 2026-07-28: the request needs a client capability its `_meta` did not declare; data.requiredCapabilities names it. */
  MissingClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
} as const;

export type WardenErrorCode =
  | 'parse_error'
  | 'invalid_request'
  | 'batch_not_supported'
  | 'method_not_found'
  | 'unknown_tool'
  | 'unknown_prompt'
  | 'unknown_resource'
  | 'name_collision'
  | 'invalid_params'
  | 'body_too_large'
  | 'body_too_deep'
  | 'unsupported_media_type'
  | 'not_acceptable'
  | 'forbidden_origin'
  | 'forbidden_host'
  | 'session_required'
  | 'session_not_found'
  | 'unsupported_protocol_version'
  | 'header_mismatch'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'upstream_crashed'
  | 'upstream_protocol_error'
  | 'upstream_invalid_result'
  | 'upstream_error'
  | 'client_capability_missing'
  | 'audit_unavailable'
  | 'unauthenticated'
  | 'invalid_grant'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'method_not_allowed'
  | 'insufficient_scope'
  | 'policy_denied'
  | 'approval_required'
  | 'task_inactive'
  | 'revoked'
  | 'revocation_unavailable'
  | 'approval_pending'
  | 'approval_denied'
  | 'approval_declined'
  | 'call_not_shown'
  | 'forbidden'
  | 'cancelled'
  | 'request_timeout'
  | 'session_limit'
  | 'process_limit'
  | 'session_store_unavailable'
  | 'principal_session_limit'
  | 'session_rate_limit'
  | 'principal_call_limit'
  | 'upstream_call_limit'
  | 'connect_required'
  | 'user_credential_unavailable'
  | 'definition_quarantined'
  | 'integrity_unavailable'
  | 'store_unavailable'
  | 'shutting_down'
  | 'internal';

export class WardenError extends Error {
  override readonly name = 'WardenError';
  constructor(
    readonly code: WardenErrorCode,
    message: string,
    readonly jsonRpcCode: number = JsonRpcCode.InternalError,
    readonly httpStatus: number = 200,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The JSON-RPC error object for any thrown value; unknown errors become a generic internal error. */
export function toJsonRpcError(err: unknown): { code: number; message: string; data?: Record<string, unknown> } {
  if (err instanceof WardenError) {
    return { code: err.jsonRpcCode, message: err.message, data: { reason: err.code, ...err.data } };
  }
  if (isStoreUnavailable(err)) return toJsonRpcError(storeUnavailable());
  if (err instanceof UpstreamRpcError) {
    // An upstream's own JSON-RPC error is relayed as it was sent: it is the tool's answer, not ours.
    return { code: err.rpcCode, message: err.message, ...(err.rpcData !== undefined ? { data: err.rpcData as Record<string, unknown> } : {}) };
  }
  return { code: JsonRpcCode.InternalError, message: 'Internal gateway error', data: { reason: 'internal' } };
}

/** An error an upstream server answered with (a JSON-RPC error response). */
export class UpstreamRpcError extends Error {
  override readonly name = 'UpstreamRpcError';
  constructor(readonly rpcCode: number, message: string, readonly rpcData?: unknown) {
    super(message);
  }
}

/**
 * A store that did not answer (store/errors.ts StoreError 'store_unavailable', told by its name and code:
 * protocol does not import the store). Its message names the store, so the client gets a fixed one instead.
 */
function isStoreUnavailable(err: unknown): boolean {
  return err instanceof Error && err.name === 'StoreError' && (err as { code?: unknown }).code === 'store_unavailable';
}

export const storeUnavailable = (): WardenError =>
  new WardenError('store_unavailable', 'The store did not answer in time, so the request was refused; retry shortly', JsonRpcCode.StoreUnavailable, 503);

export function errorCodeOf(err: unknown): string {
  if (err instanceof WardenError) return err.code;
  if (isStoreUnavailable(err)) return 'store_unavailable';
  if (err instanceof UpstreamRpcError) return 'upstream_error';
  return 'internal';
}
