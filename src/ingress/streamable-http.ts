/**
 * The MCP endpoint over Streamable HTTP, for both eras on one URL:
 * - legacy (2025-06-18, 2025-11-25): initialize opens a session (Mcp-Session-Id), GET opens the standalone
 *   stream, DELETE ends the session;
 * - modern (2026-07-28): each POST stands alone, carrying its version in `_meta` and mirrored headers.
 * It turns HTTP into calls on the gateway and never decides anything about MCP semantics itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomId, sessionId as newSessionId, type Clock } from '../core/ids.js';
import type { Gateway, RequestMeta } from '../gateway/gateway.js';
import { AuthError, challenge, principalKey, type Authenticator, type Principal } from '../identity/index.js';
import { JsonRpcCode, toJsonRpcError, WardenError } from '../protocol/errors.js';
import { errorResponse, isNotification, isRequest, parseMessage, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/jsonrpc.js';
import { HEADERLESS_REVISION, isLegacyRevision, META_PROTOCOL_VERSION, MODERN_REVISION, negotiateLegacy, SUPPORTED_REVISIONS } from '../protocol/revisions.js';
import { BodyAborted, readBody } from './body.js';
import { limitKey, type PrincipalLimits } from './limits.js';
import type { RefusalBudget } from './refusal-budget.js';
import { checkModernRequest, modernStatus, paramHeaders, shapeModernResponse } from './modern-request.js';
import { openListenStream } from './listen-stream.js';
import { congested, ResponseStream, SSE_HEADERS, sseEvent } from './response-stream.js';
import type { SessionEntry, SessionRegistry } from './sessions.js';
import { SessionDirectory } from './session-directory.js';
import { silentLogger } from '../telemetry/log.js';

export interface EndpointOptions {
  gateway: Gateway;
  sessions: SessionRegistry;
  /** Sessions shared with other replicas through the store; default: this process only. */
  directory?: SessionDirectory;
  maxBodyBytes: number;
  /** Deepest JSON nesting a body may have (limits.maxJsonDepth). */
  maxJsonDepth?: number;
  clock: Clock;
  authenticator: Authenticator;
  /** For 401/403 challenges: where the protected-resource metadata lives, and the scopes every request needs. */
  resourceMetadataUrl: string;
  requiredScopes: string[];
  /** Sessions and requests per principal, and the gateway-wide session cap (config limits). */
  limits: PrincipalLimits;
  /** Which limit refusals are audited one by one (the rest are counted). */
  refusals: RefusalBudget;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function accepts(req: IncomingMessage, type: string): boolean {
  const accept = header(req, 'accept') ?? '';
  return accept.includes(type) || accept.includes('*/*');
}

/** Writes an HTTP-level error with a JSON-RPC error body (id null: the request was not understood). */
export function sendHttpError(res: ServerResponse, err: WardenError, id: string | number | null = null): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(errorResponse(id, toJsonRpcError(err)));
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...unreadBodyHeaders(res) };
  if (err.code === 'method_not_allowed' && typeof err.data?.allow === 'string') headers.allow = err.data.allow;
  if (typeof err.data?.retryAfter === 'number') headers['retry-after'] = String(err.data.retryAfter);
  // After an oversized body the rest of it is not read: close the connection instead of draining it.
  if (err.code === 'body_too_large') headers.connection = 'close';
  res.writeHead(err.httpStatus >= 400 ? err.httpStatus : 400, headers);
  res.end(body, () => {
    if (err.code === 'body_too_large') res.socket?.destroy();
  });
}

/**
 * An answer sent before the request body was read (a refused credential, a bad Host) closes the connection:
 * otherwise the server would keep reading a body that may never end, byte by slow byte, for nothing.
 */
function unreadBodyHeaders(res: ServerResponse): Record<string, string> {
  return res.req.complete ? {} : { connection: 'close' };
}

/** The method an audit record of a refused request names: an MCP method name, or `http` for anything else. */
function methodLabel(message: JsonRpcMessage): string {
  return 'method' in message && /^[a-zA-Z_/]{1,64}$/.test(message.method) ? message.method : 'http';
}

/** Refusals because this replica cannot check or record right now: 503, so a balancer retries elsewhere. */
const UNAVAILABLE = new Set(['audit_unavailable', 'revocation_unavailable', 'store_unavailable']);

/**
 * The answer's HTTP status and Retry-After for a response refused by an upstream's call limit (inside the
 * gateway) or because a check could not be made (the store, the revocation feed or the audit not answering).
 */
function limitStatus(response: JsonRpcResponse): { status?: number; headers: Record<string, string> } {
  const data = 'error' in response ? (response.error.data as Record<string, unknown> | undefined) : undefined;
  if (typeof data?.reason === 'string' && UNAVAILABLE.has(data.reason) && data.forwarded !== true) return { status: 503, headers: { 'retry-after': '1' } };
  if (data?.reason !== 'upstream_call_limit' && data?.reason !== 'process_limit') return { headers: {} };
  return { status: 503, headers: { 'retry-after': String(data.retryAfter ?? 1) } };
}

/** The audit reason for a refused credential. */
function authFailure(err: AuthError): WardenError {
  return err.code === 'insufficient_scope'
    ? new WardenError('insufficient_scope', err.description, JsonRpcCode.Unauthorized, 403)
    : new WardenError('unauthenticated', err.description, JsonRpcCode.Unauthorized, err.status);
}

/** 405 carries the Allow header; the error is audited like any refusal. */
function methodNotAllowed(allow: string): WardenError {
  return new WardenError('method_not_allowed', 'Method Not Allowed', JsonRpcCode.InvalidRequest, 405, { allow });
}

const E = {
  sessionRequired: () => new WardenError('session_required', 'Bad Request: Mcp-Session-Id header is required', JsonRpcCode.InvalidRequest, 400),
  notAcceptable: (what: string) => new WardenError('not_acceptable', `Not Acceptable: the client must accept ${what}`, JsonRpcCode.InvalidRequest, 406),
  unsupportedMedia: () => new WardenError('unsupported_media_type', 'Unsupported Media Type: Content-Type must be application/json', JsonRpcCode.InvalidRequest, 415),
  badVersion: (v: string) =>
    new WardenError('unsupported_protocol_version', `Unsupported protocol version: ${v}`, JsonRpcCode.UnsupportedProtocolVersion, 400, { supported: SUPPORTED_REVISIONS, requested: v }),
};

export class StreamableHttpEndpoint {
  private readonly directory: SessionDirectory;

  constructor(private readonly opts: EndpointOptions) {
    this.directory = opts.directory ?? new SessionDirectory({ registry: opts.sessions, gateway: opts.gateway, log: silentLogger(), idleMs: 30 * 60_000 });
  }

  async handle(req: IncomingMessage, res: ServerResponse, peerSubjectAltName?: string): Promise<void> {
    const startedAt = this.opts.clock.now();
    let principal: Principal | null = null;
    try {
      // Every request is authenticated; a session id is never a credential.
      principal = await this.opts.authenticator.authenticate({ authorization: header(req, 'authorization'), url: req.url, peerSubjectAltName });
      if (req.method === 'POST') await this.post(req, res, startedAt, principal);
      else if (req.method === 'GET') await this.get(req, res, principal);
      else if (req.method === 'DELETE') await this.delete(req, res, principal);
      else throw methodNotAllowed('GET, POST, DELETE');
    } catch (err) {
      if (err instanceof BodyAborted) return;
      const meta = { protocolVersion: header(req, 'mcp-protocol-version') ?? null, startedAt, principal };
      // The record joins the session's trail only when the session is the caller's: a request naming someone
      // else's session (or none that exists) must not appear in that session's history.
      const sid = principal === null ? null : this.callersSession(header(req, 'mcp-session-id'), principal);
      if (err instanceof AuthError) {
        await this.opts.gateway.recordRejected('http', null, meta, authFailure(err));
        return this.sendChallenge(res, err);
      }
      if (err instanceof LimitRefusal) {
        // A limit refusal's audit record is budgeted: a flood of them must not become a flood of writes.
        if (this.opts.refusals.take(limitKey(principal!), err.error.code)) await this.opts.gateway.recordRejected(err.method, sid, meta, err.error);
        return sendHttpError(res, err.error);
      }
      const e = err instanceof WardenError ? err : new WardenError('internal', 'Internal gateway error', JsonRpcCode.InternalError, 500);
      await this.opts.gateway.recordRejected('http', sid, meta, e);
      sendHttpError(res, e);
    }
  }

  private sendChallenge(res: ServerResponse, err: AuthError): void {
    const body = JSON.stringify(errorResponse(null, { code: JsonRpcCode.Unauthorized, message: err.description, data: { reason: err.code } }));
    res.writeHead(err.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...unreadBodyHeaders(res),
      // Every refusal says where to learn how to authenticate, invalid_request included (RFC 6750 section 3.1).
      'www-authenticate': challenge(err, this.opts.resourceMetadataUrl, this.opts.requiredScopes),
    });
    res.end(body);
  }

  /** `sid` when it names a session of `principal`'s; else null. */
  private callersSession(sid: string | undefined, principal: Principal): string | null {
    if (sid === undefined) return null;
    const entry = this.opts.sessions.get(sid);
    return entry !== undefined && entry.owner === principalKey(principal) ? sid : null;
  }

  /** The session `sid` if it exists and belongs to `principal` (on this replica or, from the store, another). */
  private ownedSession(sid: string, principal: Principal): Promise<SessionEntry> {
    return this.directory.find(sid, principal);
  }

  private async post(req: IncomingMessage, res: ServerResponse, startedAt: number, principal: Principal): Promise<void> {
    const contentType = header(req, 'content-type') ?? '';
    if (contentType.split(';')[0]!.trim().toLowerCase() !== 'application/json') throw E.unsupportedMedia();
    if (!accepts(req, 'application/json') || !accepts(req, 'text/event-stream')) throw E.notAcceptable('both application/json and text/event-stream');
    const message = parseMessage(await readBody(req, this.opts.maxBodyBytes), this.opts.maxJsonDepth);
    const sid = header(req, 'mcp-session-id');
    const versionHeader = header(req, 'mcp-protocol-version');

    const metaVersion = isRequest(message) ? (message.params?._meta as Record<string, unknown> | undefined)?.[META_PROTOCOL_VERSION] : undefined;
    // A modern request is one that says so (header or _meta), even an `initialize`: that method is gone there.
    const modern = sid === undefined && (versionHeader === MODERN_REVISION || metaVersion !== undefined);
    if (modern) return this.modern(message, req, res, { protocolVersion: MODERN_REVISION, startedAt, principal });
    if (isRequest(message) && message.method === 'initialize') return this.initialize(message, res, sid, { protocolVersion: null, startedAt, principal });
    if (sid !== undefined) {
      const entry = await this.ownedSession(sid, principal);
      if (versionHeader !== undefined && !isLegacyRevision(versionHeader)) throw E.badVersion(versionHeader);
      return this.legacyMessage(entry, message, req, res, { protocolVersion: versionHeader ?? HEADERLESS_REVISION, startedAt, principal });
    }
    throw E.sessionRequired();
  }

  private async initialize(msg: JsonRpcRequest, res: ServerResponse, sid: string | undefined, meta: RequestMeta): Promise<void> {
    if (sid !== undefined) throw new WardenError('invalid_request', 'Bad Request: initialize must not carry a session id', JsonRpcCode.InvalidRequest, 400);
    const { gateway, sessions } = this.opts;
    const key = limitKey(meta.principal!);
    try {
      this.opts.limits.admitSession(key, sessions);
    } catch (err) {
      throw err instanceof WardenError ? new LimitRefusal(err, 'initialize') : err;
    }
    const params = msg.params ?? {};
    const protocolVersion = negotiateLegacy(params.protocolVersion);
    const id = newSessionId();
    const init = {
      id,
      protocolVersion,
      clientInfo: (params.clientInfo as Record<string, unknown>) ?? {},
      clientCapabilities: (params.capabilities as Record<string, unknown>) ?? {},
      owner: meta.principal,
    };
    const { session } = this.directory.openLocal(id, init, meta.principal!);
    const stream = new ResponseStream(res, false, false);
    // No upstream starts here: each connects on the session's first request that needs it.
    const response = await gateway.initialize(session, msg, { ...meta, protocolVersion });
    if ('error' in response) await sessions.remove(id);
    // Stored once accepted, so every replica can serve it; a store that cannot take it refuses the session.
    else await this.directory.store(id, init, meta.principal!);
    const limited = limitStatus(response);
    stream.finish(response, limited.status ?? 200, 'error' in response ? limited.headers : { 'mcp-session-id': id });
  }

  private async legacyMessage(entry: SessionEntry, message: JsonRpcMessage, req: IncomingMessage, res: ServerResponse, meta: RequestMeta): Promise<void> {
    const { session } = entry;
    session.lastSeen = Date.now();
    if (!isRequest(message)) {
      if (isNotification(message)) this.clientNotification(entry, message);
      else if (!session.acceptClientResponse(message) && !(await this.directory.signal(session.id!, 'response', message))) {
        // Not asked here; with several replicas it went to the others (the one that asked takes it).
        throw new WardenError('invalid_request', 'Response to an unknown request id', JsonRpcCode.InvalidRequest, 400);
      }
      res.writeHead(202).end();
      return;
    }
    const release = this.admitCall(message, meta);
    const stream = new ResponseStream(res, accepts(req, 'text/event-stream'), false, true, newStreamId());
    entry.inflight.set(message.id, stream);
    keepForResume(entry, stream);
    try {
      const response = await this.opts.gateway.handle(session, message, stream, meta);
      const limited = limitStatus(response);
      stream.finish(response, limited.status, limited.headers);
    } finally {
      release();
      if (entry.inflight.get(message.id) === stream) entry.inflight.delete(message.id);
    }
  }

  private clientNotification(entry: SessionEntry, message: JsonRpcMessage & { method: string; params?: Record<string, unknown> }): void {
    const { method, params } = message;
    if (method === 'notifications/cancelled') {
      const id = params?.requestId;
      if (typeof id !== 'string' && typeof id !== 'number') return;
      // The request may run on another replica: it hears of the cancellation there.
      if (entry.inflight.has(id)) entry.inflight.get(id)!.cancel();
      else void this.directory.signal(entry.session.id!, 'cancel', message);
    } else if (method === 'notifications/roots/list_changed') {
      entry.session.clientRootsChanged();
    }
  }

  private async modern(message: JsonRpcMessage, req: IncomingMessage, res: ServerResponse, protocol: RequestMeta): Promise<void> {
    if (!isRequest(message)) {
      res.writeHead(202).end();
      return;
    }
    const { gateway } = this.opts;
    try {
      checkModernRequest(req, message);
    } catch (err) {
      // 2026-07-28: every refusal of a request carries that request's id.
      const e = err instanceof WardenError ? err : new WardenError('invalid_request', 'Bad Request', JsonRpcCode.InvalidRequest, 400);
      await gateway.recordRejected(methodLabel(message), null, protocol, e);
      return sendHttpError(res, e, message.id);
    }
    protocol.paramHeaders = paramHeaders(req);
    const session = gateway.statelessSession(protocol.principal);
    if (message.method === 'subscriptions/listen') return openListenStream(gateway, session, message, req, res, protocol);
    const release = this.admitCall(message, protocol);
    try {
      const stream = new ResponseStream(res, accepts(req, 'text/event-stream'), true);
      const response = shapeModernResponse(
        message.method,
        message.method === 'server/discover'
          ? await gateway.handleLocal(session, message, protocol, () => gateway.discoverResult())
          : await gateway.handle(session, message, stream, protocol),
      );
      const limited = limitStatus(response);
      stream.finish(response, limited.status ?? modernStatus(response), limited.headers);
    } finally {
      release();
    }
  }

  /** Takes one of the principal's request slots (limits.maxConcurrentCallsPerPrincipal), or refuses with 429. */
  private admitCall(message: JsonRpcRequest, meta: RequestMeta): () => void {
    if (!meta.principal) return () => undefined;
    try {
      return this.opts.limits.admitCall(limitKey(meta.principal));
    } catch (err) {
      throw err instanceof WardenError ? new LimitRefusal(err, methodLabel(message)) : err;
    }
  }

  private async get(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const sid = header(req, 'mcp-session-id');
    if (sid === undefined) {
      if (header(req, 'mcp-protocol-version') === MODERN_REVISION) throw methodNotAllowed('POST');
      throw E.sessionRequired();
    }
    const entry = await this.ownedSession(sid, principal);
    if (!accepts(req, 'text/event-stream')) throw E.notAcceptable('text/event-stream');
    const lastEventId = header(req, 'last-event-id');
    if (lastEventId !== undefined) return resumeStream(entry, lastEventId, res);
    if (entry.session.standalone && entry.session.standalone !== entry.remote) throw new WardenError('invalid_request', 'Conflict: this session already has an open stream', JsonRpcCode.InvalidRequest, 409);
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 25_000);
    keepAlive.unref();
    const close = () => {
      clearInterval(keepAlive);
      if (entry.session.standalone === outbound) entry.session.standalone = entry.remote;
      if (entry.localStream === outbound) entry.localStream = undefined;
    };
    const outbound = { send: (m: JsonRpcMessage) => (res.writableEnded || congested(res, m) ? false : (res.write(sseEvent(m)), true)) };
    entry.session.standalone = outbound;
    entry.localStream = outbound;
    entry.closeStandalone = () => {
      close();
      res.end();
    };
    res.on('close', close);
  }

  private async delete(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const sid = header(req, 'mcp-session-id');
    if (sid === undefined) throw E.sessionRequired();
    await this.ownedSession(sid, principal);
    // Ends it on every replica (the store's signal), not only here.
    await this.directory.end(sid);
    await this.opts.gateway.recordOutcome('session/delete', sid, { protocolVersion: header(req, 'mcp-protocol-version') ?? null, startedAt: this.opts.clock.now(), principal });
    res.writeHead(200).end();
  }
}


/** Streams of one session kept for resumption; the oldest is forgotten first. */
const KEPT_STREAMS = 32;

const newStreamId = (): string => randomId(12);

function keepForResume(entry: SessionEntry, stream: ResponseStream): void {
  entry.streams.set(stream.streamId!, stream);
  if (entry.streams.size > KEPT_STREAMS) entry.streams.delete(entry.streams.keys().next().value!);
}

/**
 * 2025-11-25 resumability: a GET with Last-Event-ID (`streamId:seq`, as the gateway numbered the events)
 * gets the events of that POST stream after it, then the rest as they come. Another session's stream, or
 * events no longer kept, are not found.
 */
function resumeStream(entry: SessionEntry, lastEventId: string, res: ServerResponse): void {
  const m = /^([A-Za-z0-9_-]{1,64}):(\d{1,9})$/.exec(lastEventId);
  const stream = m ? entry.streams.get(m[1]!) : undefined;
  if (!stream || !stream.resume(res, Number(m![2]))) {
    throw new WardenError('session_not_found', 'No such event to resume from in this session', JsonRpcCode.SessionNotFound, 404);
  }
}

/** A request refused by a resource limit: the error to answer with and the method its (budgeted) audit record names. */
class LimitRefusal extends Error {
  constructor(readonly error: WardenError, readonly method: string) {
    super(error.message);
  }
}
