/**
 * One MCP client connection to one upstream server: the initialize handshake, the negotiated revision and
 * capabilities, and restart with exponential backoff when the connection drops (a crashed stdio server).
 * While it is down, calls fail fast with `upstream_unavailable` and other upstreams are unaffected.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ServerConfig } from '../config/schema.js';
import type { ConcurrencyLimit } from '../core/limits.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcNotification, JsonRpcRequest, Params } from '../protocol/jsonrpc.js';
import { LEGACY_REVISIONS, META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO, MODERN_REVISION, UPSTREAM_REVISION } from '../protocol/revisions.js';
import type { Logger } from '../telemetry/log.js';
import { DEFAULT_UPSTREAM_BOUNDS, type UpstreamBounds } from './fault.js';
import { RpcPeer, type RequestOptions } from './rpc-peer.js';
import { createTransport } from './transports.js';

export interface UpstreamClientOptions {
  name: string;
  server: ServerConfig;
  /** Capabilities declared to the upstream: mirrored from the downstream client, so servers list what it can use. */
  clientCapabilities: Record<string, unknown>;
  clientInfo: { name: string; version: string };
  connectTimeoutMs: number;
  log: Logger;
  onRequest?: (request: JsonRpcRequest, tag?: unknown) => Promise<Record<string, unknown>>;
  onNotification?: (notification: JsonRpcNotification, tag?: unknown) => void;
  /** Called after each successful (re)connect, so caches of the upstream's lists can be dropped. */
  onReady?: () => void;
  /**
   * Called when the connection is lost or cannot be made, before the restart backoff starts; `code` is
   * upstream_protocol_error when the upstream broke a bound (UpstreamBounds), else upstream_crashed.
   */
  onDown?: (reason: string, code: UpstreamDownCode) => void;
  /**
   * Try 2026-07-28 first (server/discover), for stateless clients; otherwise the 2025-11-25 handshake first,
   * and 2026-07-28 only for a server that refuses it. `protocol` in the server's config overrides both.
   */
  preferModern?: boolean;
  /** What the upstream may send (message size, depth, notification rate). */
  bounds?: UpstreamBounds;
  /** Calls in flight to this upstream, across every session: one slot per request but lists, keyed by `name`. */
  calls?: ConcurrencyLimit;
  /** For tests: replaces the transport factory. */
  transportFactory?: () => Transport;
  /** Produces the config each (re)connect uses, e.g. with credentials injected; a throw fails that connect. */
  prepare?: (server: ServerConfig) => Promise<ServerConfig>;
  backoff?: { initialMs: number; maxMs: number };
}

type State = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';
export type UpstreamDownCode = 'upstream_crashed' | 'upstream_protocol_error';

export class UpstreamClient {
  private state: State = 'idle';
  private peer?: RpcPeer;
  private connecting?: Promise<RpcPeer>;
  private failures = 0;
  private retryAt = 0;
  private retryTimer?: NodeJS.Timeout;
  serverCapabilities: Record<string, unknown> = {};
  serverInfo: Record<string, unknown> = {};
  protocolVersion = '';
  instructions?: string;
  /** Requests in flight, and when the last one ended: the pool reaps connections idle for long enough. */
  inFlight = 0;
  lastActive = Date.now();

  constructor(private readonly opts: UpstreamClientOptions) {}

  get name(): string {
    return this.opts.name;
  }

  /** Starting, or serving a request: not to be closed to make room for another connection. */
  get busy(): boolean {
    return this.inFlight > 0 || this.connecting !== undefined;
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  /** Connects if needed; rejects fast while a restart backoff is running. */
  ready(): Promise<RpcPeer> {
    if (this.state === 'ready' && this.peer) return Promise.resolve(this.peer);
    if (this.state === 'closed') return Promise.reject(this.unavailable('is shut down'));
    if (this.connecting) return this.connecting;
    if (this.state === 'backoff' && Date.now() < this.retryAt) {
      return Promise.reject(this.unavailable(`is restarting (next attempt in ${Math.ceil((this.retryAt - Date.now()) / 1000)} s)`));
    }
    this.connecting = this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async request(method: string, params: Params | undefined, opts: RequestOptions): Promise<Record<string, unknown>> {
    // Lists are fetched once per session and cached: they are not calls, and a busy upstream must not empty a
    // session's catalog (a call would then find no tool to resolve).
    const calls = method.endsWith('/list') ? undefined : this.opts.calls;
    const release = calls?.tryAcquire(this.opts.name);
    if (calls && release === undefined) {
      const message = `Upstream "${this.opts.name}" already has ${calls.max} calls in flight; try again shortly`;
      throw new WardenError('upstream_call_limit', message, JsonRpcCode.LimitExceeded, 503, { retryAfter: 1 });
    }
    this.inFlight++;
    try {
      const peer = await this.ready();
      return await peer.request(method, params, opts);
    } finally {
      this.inFlight--;
      this.lastActive = Date.now();
      release?.();
    }
  }

  /** A 2026-07-28 connection's log level (sent in every request's `_meta`); other revisions use logging/setLevel. */
  setLogLevel(level: unknown): void {
    const t = this.transport as (Transport & { setLogLevel?: (level: string | undefined) => void }) | undefined;
    t?.setLogLevel?.(typeof level === 'string' && /^[a-z]{1,16}$/.test(level) ? level : undefined);
  }

  private transport?: Transport;

  async notify(method: string, params?: Params): Promise<void> {
    if (this.state === 'ready' && this.peer) await this.peer.notify(method, params);
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.peer?.close();
  }

  private async connect(): Promise<RpcPeer> {
    this.state = 'connecting';
    const { name, log } = this.opts;
    let server = this.opts.server;
    if (this.opts.prepare !== undefined) {
      try {
        server = await this.opts.prepare(server);
      } catch (err) {
        if ((this.state as State) === 'closed') throw err;
        if (err instanceof WardenError && err.code === 'connect_required') {
          // The user has not connected their account yet: no backoff, the next call after they do connects.
          this.state = 'idle';
          this.lastRefusal = err;
          throw err;
        }
        // The user's credential could not be obtained (their identity provider refused): calls are told why.
        this.lastRefusal = err instanceof WardenError && err.code === 'user_credential_unavailable' ? err : undefined;
        this.scheduleRestart('credentials could not be prepared');
        // The reason names no secret: preparation errors are written for the client.
        throw err instanceof WardenError ? err : this.unavailable('could not be given its credentials');
      }
    }
    const bounds = this.opts.bounds ?? DEFAULT_UPSTREAM_BOUNDS;
    const transport = this.opts.transportFactory?.() ?? createTransport(name, server, log, bounds);
    this.transport = transport;
    const peer = new RpcPeer(
      transport,
      name,
      {
        onRequest: this.opts.onRequest,
        onNotification: this.opts.onNotification,
        onInvalid: (reason) => log.warn({ upstream: name, reason }, 'upstream sent an invalid message'),
        onClose: (unexpected, fault) => {
          if (fault) log.warn({ upstream: name, reason: fault.message }, 'upstream broke the protocol: connection dropped');
          if (!unexpected || this.peer !== peer) return;
          const code = fault ? 'upstream_protocol_error' : 'upstream_crashed';
          this.scheduleRestart(fault ? fault.message : 'connection closed', code, stderrOf(transport));
        },
      },
      bounds,
    );
    try {
      await peer.start();
      // Each leg in its client's era where the upstream speaks both (fewer translations); the other era where
      // it speaks only that one.
      const modernFirst = protocolOf(this.opts.server) === 'modern' || (protocolOf(this.opts.server) === 'auto' && this.opts.preferModern === true);
      if (modernFirst && (await this.discoverModern(peer, transport))) return await this.connected(peer, MODERN_REVISION);
      let init: Record<string, unknown>;
      try {
        init = await peer.request(
          'initialize',
          { protocolVersion: UPSTREAM_REVISION, capabilities: this.opts.clientCapabilities, clientInfo: this.opts.clientInfo },
          { timeoutMs: this.opts.connectTimeoutMs },
        );
      } catch (err) {
        if (!modernFirst && (await this.discoverModern(peer, transport).catch(() => false))) return await this.connected(peer, MODERN_REVISION);
        throw err;
      }
      const version = init.protocolVersion;
      if (typeof version !== 'string' || !(LEGACY_REVISIONS as readonly string[]).includes(version)) {
        throw new WardenError('upstream_invalid_result', `Upstream "${name}" answered initialize with an unsupported protocol version`, JsonRpcCode.UpstreamInvalidResult);
      }
      transport.setProtocolVersion?.(version);
      this.serverCapabilities = isRecord(init.capabilities) ? init.capabilities : {};
      this.serverInfo = isRecord(init.serverInfo) ? init.serverInfo : {};
      this.instructions = typeof init.instructions === 'string' ? init.instructions : undefined;
      await peer.notify('notifications/initialized');
      return await this.connected(peer, version);
    } catch (err) {
      await peer.close().catch(() => undefined);
      if ((this.state as State) === 'closed') throw err;
      const faulted = err instanceof WardenError && err.code === 'upstream_protocol_error';
      const reason = err instanceof Error ? `${err.message}${causeOf(err)}` : 'connect failed';
      this.scheduleRestart(reason, faulted ? 'upstream_protocol_error' : 'upstream_crashed', stderrOf(transport));
      throw err instanceof WardenError ? err : this.unavailable('could not be started');
    }
  }

  /** The last connect refused for want of the user's own credential (connect_required, user_credential_unavailable): what a call is told. */
  lastRefusal: WardenError | undefined;

  private async connected(peer: RpcPeer, version: string): Promise<RpcPeer> {
    if ((this.state as State) !== 'connecting') {
      // Closed while the handshake ran.
      await peer.close();
      throw this.unavailable('is shut down');
    }
    this.protocolVersion = version;
    this.peer = peer;
    this.state = 'ready';
    this.lastRefusal = undefined;
    this.failures = 0;
    this.lastFailure = undefined;
    this.opts.log.debug({ upstream: this.opts.name, protocolVersion: version }, 'upstream connected');
    this.opts.onReady?.();
    return peer;
  }

  /**
   * Asks an HTTP upstream which revisions it speaks (`server/discover`, itself a 2026-07-28 request). One that
   * lists 2026-07-28 is spoken to in it from then on; any other answer (a legacy server's 400 or -32601)
   * means the 2025-11-25 handshake. stdio upstreams keep the handshake.
   */
  private async discoverModern(peer: RpcPeer, transport: Transport): Promise<boolean> {
    const http = transport as Transport & { setModern?: (meta: Record<string, unknown> | undefined) => void };
    if (typeof http.setModern !== 'function' || protocolOf(this.opts.server) === 'legacy') return false;
    http.setModern({
      [META_PROTOCOL_VERSION]: MODERN_REVISION,
      [META_CLIENT_CAPABILITIES]: this.opts.clientCapabilities,
      [META_CLIENT_INFO]: this.opts.clientInfo,
    });
    try {
      const found = await peer.request('server/discover', {}, { timeoutMs: this.opts.connectTimeoutMs });
      if (Array.isArray(found.supportedVersions) && found.supportedVersions.includes(MODERN_REVISION)) {
        this.serverCapabilities = isRecord(found.capabilities) ? found.capabilities : {};
        const meta = isRecord(found._meta) ? found._meta : {};
        this.serverInfo = isRecord(meta[META_SERVER_INFO]) ? meta[META_SERVER_INFO] : isRecord(found.serverInfo) ? found.serverInfo : {};
        this.instructions = typeof found.instructions === 'string' ? found.instructions : undefined;
        (transport as Transport & { openListen?: () => void }).openListen?.();
        return true;
      }
    } catch (err) {
      // A modern-only server that refuses us is not a legacy one: its refusal stands.
      if (protocolOf(this.opts.server) === 'modern') throw err;
    }
    if (protocolOf(this.opts.server) === 'modern') throw new WardenError('upstream_unavailable', `Upstream "${this.opts.name}" does not speak ${MODERN_REVISION}`, JsonRpcCode.UpstreamUnavailable);
    http.setModern(undefined);
    return false;
  }

  /** Why the last connect failed, with the server's last stderr lines; undefined once connected. */
  lastFailure: { reason: string; stderr: string[] } | undefined;

  private scheduleRestart(reason: string, code: UpstreamDownCode = 'upstream_crashed', stderr: string[] = []): void {
    if (this.state === 'closed') return;
    this.lastFailure = { reason, stderr };
    const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    const delay = Math.min(maxMs, initialMs * 2 ** this.failures);
    this.failures++;
    this.state = 'backoff';
    this.peer = undefined;
    this.retryAt = Date.now() + delay;
    // Warning level with the server's own last words: the cause of a server that will not start is visible without debug logs.
    const tail = stderr.length > 0 ? { stderr: stderr.join('\n') } : {};
    this.opts.log.warn({ upstream: this.opts.name, reason, retryInMs: delay, ...tail }, 'upstream down, restarting with backoff');
    this.opts.onDown?.(reason, code);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.ready().catch(() => undefined), delay);
    this.retryTimer.unref();
  }

  private unavailable(what: string): WardenError {
    return new WardenError('upstream_unavailable', `Upstream "${this.opts.name}" ${what}`, JsonRpcCode.UpstreamUnavailable);
  }
}

/** The network cause of a failed connect, for the operator: " (ECONNREFUSED 127.0.0.1:1)", or "". */
function causeOf(err: Error): string {
  for (let c: unknown = err.cause, depth = 0; c instanceof Error && depth < 4; c = c.cause, depth++) {
    const code = (c as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return ` (${code}${'address' in c ? ` ${String((c as { address: unknown }).address)}:${String((c as { port?: unknown }).port ?? '')}` : ''})`;
  }
  return err.cause instanceof Error ? ` (${err.cause.message})` : '';
}

/** The stderr tail of a transport that keeps one (stdio). */
function stderrOf(transport: Transport): string[] {
  const t = transport as Transport & { stderrTail?: () => string[] };
  return typeof t.stderrTail === 'function' ? t.stderrTail() : [];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function protocolOf(server: ServerConfig): string {
  return 'protocol' in server && typeof server.protocol === 'string' ? server.protocol : 'auto';
}
