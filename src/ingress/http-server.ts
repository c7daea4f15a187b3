/**
 * The HTTP(S) listener: the DNS-rebinding guard in front of everything, then the MCP endpoint, the identity
 * endpoints and a health check. With `tls.clientCaFile` it requires client certificates (mTLS).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { AdminApi, type AdminServices } from '../admin/index.js';
import type { WardenConfig } from '../config/schema.js';
import { ConsoleServer, type ConsoleServices } from '../console/index.js';
import { systemClock } from '../core/ids.js';
import type { Gateway } from '../gateway/gateway.js';
import type { Identity } from '../identity/index.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { Logger } from '../telemetry/log.js';
import { ApprovalPage, type ApprovalPageOptions } from './approval-page.js';
import { ConnectionsPage, type ConnectionsPageOptions } from './connections-page.js';
import { ApprovalCallback, type ApprovalCallbackOptions } from './approval-routes.js';
import { createHostGuard, type HostGuard } from './guard.js';
import { PrincipalLimits } from './limits.js';
import { RefusalBudget } from './refusal-budget.js';
import { routeIdentity } from './oauth-routes.js';
import type { Health } from './health.js';
import { routeOps, type MetricsEndpoint } from './ops-routes.js';
import { SessionRegistry } from './sessions.js';
import { SessionDirectory } from './session-directory.js';
import type { SessionStore } from '../store/index.js';
import { sendHttpError, StreamableHttpEndpoint } from './streamable-http.js';

export interface Ingress {
  /** The MCP endpoint URL clients use. */
  url: string;
  port: number;
  /**
   * Graceful shutdown: readiness turns 503, the listener stops accepting connections, and requests in
   * flight run to their end, for up to `ms`; resolves with how many were still running then.
   */
  drain(ms: number): Promise<number>;
  close(): Promise<void>;
}

/** Readiness and metrics for the operations endpoints (ops-routes.ts). */
export interface IngressOps {
  health?: Health;
  metrics?: MetricsEndpoint;
}

export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(i + 1)) };
}

/**
 * The listener, with the limits.*Timeout bounds on how long a client may take to send a request: its headers,
 * then the whole request (a body sent a byte at a time is cut off), and how long a keep-alive connection may
 * sit idle. They bound receiving only: a long answer (a held call, an SSE stream) is not cut.
 */
function createListener(config: WardenConfig, baseDir: string, handler: RequestListener): Server {
  const { headersTimeoutMs, requestTimeoutMs, idleTimeoutMs } = config.limits;
  const timeouts: ServerOptions = {
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: idleTimeoutMs,
    // Node checks the two request timeouts on this interval (30 s by default, which would stretch them).
    connectionsCheckingInterval: Math.min(1000, headersTimeoutMs),
  };
  const tls = config.tls;
  if (!tls) return createServer(timeouts, handler);
  const read = (f: string) => readFileSync(resolve(baseDir, f));
  return createHttpsServer(
    {
      ...timeouts,
      cert: read(tls.certFile),
      key: read(tls.keyFile),
      ...(tls.clientCaFile ? { ca: read(tls.clientCaFile), requestCert: true, rejectUnauthorized: true } : {}),
    },
    handler,
  ) as unknown as Server;
}

const CLIENT_ERROR_ANSWERS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/**
 * Node's own answer to a request it could not read (what it does without a listener), plus an audit record
 * (budgeted) when the client was too slow: a slow-request attack shows up in the audit log.
 */
function onClientError(err: NodeJS.ErrnoException, socket: Socket, gateway: Gateway, budget: RefusalBudget, log: Logger): void {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    log.info({ remote: socket.remoteAddress }, 'request timed out before it was fully received: connection closed');
    if (budget.take(socket.remoteAddress ?? 'unknown', 'request_timeout')) {
      const meta = { protocolVersion: null, startedAt: systemClock.now(), principal: null };
      void gateway.recordRejected('http', null, meta, new WardenError('request_timeout', 'The request was not received in time', JsonRpcCode.LimitExceeded, 408));
    }
  }
  const response = (socket as { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && !response?.headersSent && err.code !== 'ECONNRESET') socket.write(CLIENT_ERROR_ANSWERS[err.code ?? ''] ?? BAD_REQUEST);
  socket.destroy();
}

/** The subjectAltName of a verified client certificate that is not a CA (X.509-SVID rule), if any. */
function peerSan(req: IncomingMessage): string | undefined {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerX509Certificate !== 'function' || !socket.authorized) return undefined;
  const cert = socket.getPeerX509Certificate();
  if (!cert || cert.ca) return undefined;
  return cert.subjectAltName ?? undefined;
}

/**
 * `approvalCallback`: serve `POST /approvals/<id>/decision` (config approvals.callback.enabled); `admin`: serve
 * `/admin/` (config admin.enabled); `approvalPage`: serve the sign-in approval page `/approvals/<uuid>` (config approvals.page);
 * `consoleServices`: serve the governance console `/console/` (config console.enabled); `connectionsPage`: serve the
 * Connections page `/approvals/connections` (upstreams with `auth`: each user's own credential).
 */
export async function startIngress(
  config: WardenConfig,
  gateway: Gateway,
  log: Logger,
  baseDir: string,
  identityFor: (publicUrl: string) => Identity,
  approvalCallback?: ApprovalCallbackOptions,
  admin?: AdminServices,
  approvalPage?: ApprovalPageOptions,
  consoleServices?: ConsoleServices,
  sessionStore?: SessionStore,
  connectionsPage?: Omit<ConnectionsPageOptions, 'approvalPageServed'>,
  ops: IngressOps = {},
): Promise<Ingress> {
  const approvals = approvalCallback ? new ApprovalCallback(approvalCallback) : undefined;
  const { host, port } = splitListen(config.listen);
  const sessions = new SessionRegistry(config.limits.sessionIdleMs);
  // Sessions in the shared store: any replica serves any request of a session (docs/operations.md, balancers).
  const directory = new SessionDirectory({ registry: sessions, gateway, log, idleMs: config.limits.sessionIdleMs, ...(sessionStore ? { store: sessionStore } : {}) });
  await directory.start();
  const refusals = new RefusalBudget(log);
  // The guard and identity need the bound port, known only after listen(); requests wait for neither.
  const bound: { guard?: HostGuard; identity?: Identity; endpoint?: StreamableHttpEndpoint; admin?: AdminApi } = {};
  // Its links and cookies need the public URL, read per request (it is known once listening).
  const page = approvalPage ? new ApprovalPage(approvalPage, () => bound.identity!.resource) : undefined;
  const consolePages = consoleServices ? new ConsoleServer(consoleServices, () => bound.identity!.resource) : undefined;
  const connections = connectionsPage ? new ConnectionsPage({ ...connectionsPage, approvalPageServed: page !== undefined }, () => bound.identity!.resource) : undefined;

  // Requests being answered (not GET: a standalone SSE stream never ends by itself), for the drain.
  let inFlight = 0;
  let draining = false;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET') {
      inFlight++;
      res.once('close', () => inFlight--);
    }
    // Draining: still answered, but the client is told to reconnect (to another replica) for the next one.
    if (draining) res.setHeader('connection', 'close');
    // A refusal is an outcome like any other: it is audited before the answer leaves. No session id is
    // recorded: a request from a foreign Host or Origin must not write events into a real session's trail.
    const refuse = (err: WardenError): void => {
      const meta = { protocolVersion: null, startedAt: systemClock.now(), principal: null };
      void gateway.recordRejected('http', null, meta, err).then(() => sendHttpError(res, err));
    };
    if (!bound.guard || !bound.identity || !bound.endpoint) return sendHttpError(res, new WardenError('internal', 'Starting', JsonRpcCode.InternalError, 503));
    // A request that reaches a draining replica on a kept-alive connection is not run: the process may exit
    // before it ends, and a call cut off after the upstream ran it would be lost to its client (or run twice
    // by a retrying one). It is refused before anything happens, so any replica can take it instead.
    if (draining && req.method !== 'GET') {
      return refuse(new WardenError('shutting_down', 'This replica is shutting down; the request was not run: send it again (to another replica)', JsonRpcCode.ShuttingDown, 503, { retryAfter: 1 }));
    }
    if (!bound.guard.hostAllowed(req.headers.host)) {
      log.warn({ host: req.headers.host }, 'request refused: Host not allowed');
      return refuse(new WardenError('forbidden_host', 'Forbidden: Host header not allowed', JsonRpcCode.Forbidden, 403));
    }
    if (!bound.guard.originAllowed(req.headers.origin)) {
      log.warn({ origin: req.headers.origin }, 'request refused: Origin not allowed');
      return refuse(new WardenError('forbidden_origin', 'Forbidden: Origin not allowed', JsonRpcCode.Forbidden, 403));
    }
    if (path === new URL(bound.identity.resource).pathname || path === '/mcp') {
      void bound.endpoint.handle(req, res, peerSan(req));
      return;
    }
    if (routeIdentity(path, req, res, bound.identity, gateway, systemClock)) return;
    if (connections?.route(path, req, res)) return;
    if (page?.route(path, req, res)) return;
    if (consolePages?.route(path, req, res)) return;
    if (approvals?.route(path, req, res)) return;
    if (bound.admin?.route(path, req, res, peerSan(req))) return;
    if (routeOps(path, req, res, { ...ops, sessions: () => sessions.size })) return;
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
  };
  const server = createListener(config, baseDir, handler);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, gateway, refusals, log));

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolveListen());
  });
  const actual = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `${config.tls ? 'https' : 'http'}://${shownHost}:${actual}/mcp`;
  const identity = identityFor(config.publicUrl ?? url);
  bound.identity = identity;
  bound.endpoint = new StreamableHttpEndpoint({
    gateway,
    sessions,
    directory,
    maxBodyBytes: config.limits.maxBodyBytes,
    maxJsonDepth: config.limits.maxJsonDepth,
    clock: systemClock,
    authenticator: identity.authenticator,
    resourceMetadataUrl: identity.metadataUrl,
    requiredScopes: identity.requiredScopes,
    limits: new PrincipalLimits(config.limits),
    refusals,
  });
  if (admin) bound.admin = new AdminApi({ ...admin, authenticator: identity.authenticator, resourceMetadataUrl: identity.metadataUrl, requiredScopes: identity.requiredScopes });
  bound.guard = createHostGuard(host, actual, config.allowedHosts, config.allowedOrigins, config.publicUrl);
  return {
    url,
    port: actual,
    drain: async (ms) => {
      draining = true;
      ops.health?.drain();
      server.close();
      server.closeIdleConnections();
      const end = Date.now() + ms;
      while (inFlight > 0 && Date.now() < end) {
        // A keep-alive connection whose answer has left is closed, so its client goes elsewhere.
        server.closeIdleConnections();
        await new Promise((r) => setTimeout(r, 20));
      }
      return inFlight;
    },
    close: async () => {
      await directory.close();
      await sessions.closeAll();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}
