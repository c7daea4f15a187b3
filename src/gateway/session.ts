/**
 * One downstream client session. Its upstream connections come from the gateway's pool (connections.ts),
 * shared as far as each upstream's `share` mode allows and opened with the client's sampling and elicitation
 * capabilities mirrored (sessions with different capabilities never share one); a server-to-client request
 * (sampling, elicitation) reaches only the client whose request caused it.
 * Roots are the operator's: the gateway answers `roots/list` itself with the upstream's configured roots,
 * and passes a client's on only where the operator opted in, narrowed to them and decided one by one.
 */
import type { ServerConfig } from '../config/schema.js';
import type { Redacted, Redactor } from '../credentials/redactor.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import { MODERN_REVISION } from '../protocol/revisions.js';
import type { JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, Params } from '../protocol/jsonrpc.js';
import type { Principal } from '../identity/principal.js';
import type { UpstreamClient, UpstreamDownCode } from '../upstream/index.js';
import { effectiveShare, type PoolMember } from './connections.js';
import { Catalog, type ListKind } from './catalog.js';
import type { Outbound, RequestOutbound } from './channel.js';
import { ClientRequests, RELAYABLE, REQUIRED_CAPABILITY, uniqueToken } from './client-requests.js';
import { narrowClientRoots, rootOf } from './reach.js';
import type { SessionDeps, SessionInit } from './session-deps.js';
import { Listeners, type Listener } from './subscriptions.js';
import { SessionTasks } from './task-routes.js';

/* The session's init and deps, and its requests to the client, live in their own files; re-exported for the gateway and ingress. */
export type { PreparedServer, SessionDeps, SessionInit } from './session-deps.js';

let nextMember = 1;

interface Active {
  upstream: string;
  out: RequestOutbound;
  /** A message the upstream sent during this request had secret values redacted (for the request's audit). */
  onRedacted?: () => void;
}

export class GatewaySession implements PoolMember {
  readonly catalog: Catalog;
  readonly memberId = nextMember++;
  /** Upstreams this session has used (for roots changes and logging levels). */
  private readonly used = new Set<string>();
  /** Resource URIs this session subscribed to, per upstream: a shared connection's updates go only to subscribers. */
  private readonly subscriptions = new Map<string, Set<string>>();
  readonly order: string[];
  /** The standalone stream (GET) for messages unrelated to a request. */
  standalone?: Outbound;
  /** Tasks upstreams created for this session's calls: only this session finds them (task-routes.ts). */
  readonly tasks = new SessionTasks();
  /** Open `subscriptions/listen` streams (stateless connections only), each with what it asked for. */
  private readonly listeners = new Listeners();
  lastSeen = Date.now();
  private readonly active = new Set<Active>();
  /** Upstream progress token -> the client's stream and the token the client chose. */
  private readonly progressRoutes = new Map<string, { out: RequestOutbound; clientToken: string | number }>();
  /** Requests sent to this session's client, waiting for its answers. */
  private readonly clientRequests: ClientRequests;
  private closed = false;
  /** Requests of this session the gateway is handling now (stateless sets in use are never evicted). */
  inFlight = 0;
  /** The secret values injected into the gateway's upstreams, redacted from everything they send back. */
  private readonly redactor: Redactor;

  constructor(readonly init: SessionInit, private readonly deps: SessionDeps) {
    this.catalog = new Catalog(deps.naming, deps.onCollision ? (c) => deps.onCollision!(c, this) : undefined);
    this.order = [...deps.servers.keys()];
    this.redactor = deps.redactor;
    this.clientRequests = new ClientRequests(deps.callTimeoutMs);
  }

  get id(): string | null {
    return this.init.id;
  }

  get owner(): Principal | null {
    return this.init.owner ?? null;
  }

  /** The session's connection to one upstream, from the pool (started on first use). */
  upstream(name: string): UpstreamClient {
    if (this.closed) throw new WardenError('session_not_found', 'The session ended', JsonRpcCode.SessionNotFound);
    const conn = this.deps.pool.acquire(this, name);
    this.used.add(name);
    return conn.client;
  }

  /** The client capabilities an upstream connection of this session declares. */
  mirroredCapabilities(name: string): Record<string, unknown> {
    const mirrored: Record<string, unknown> = Object.fromEntries(RELAYABLE.filter((c) => c in this.init.clientCapabilities).map((c) => [c, this.init.clientCapabilities[c]]));
    const reach = this.deps.confinement.reach(name);
    if (reach.advertised.length > 0) mirrored.roots = { listChanged: reach.clientRoots };
    return mirrored;
  }

  /** The options of a pooled connection opened for this session (its owner's credentials, the gateway's bounds). */
  clientOptions(name: string, server: ServerConfig) {
    return {
      name,
      server,
      clientCapabilities: this.mirroredCapabilities(name),
      clientInfo: { name: 'mcp-warden', version: this.deps.version },
      connectTimeoutMs: Math.min(this.deps.callTimeoutMs, 30_000),
      preferModern: this.init.protocolVersion === MODERN_REVISION,
      // Upstream stderr and failure reasons are logged: secrets are redacted from those too.
      log: this.deps.log.child({}, { serializers: { stderr: this.redactLogged, reason: this.redactLogged } }),
      onDown: (_reason: string, code: UpstreamDownCode) => this.deps.onUpstreamDown?.(name, this.init.id, code),
      ...(this.deps.upstreamBounds ? { bounds: this.deps.upstreamBounds } : {}),
      ...(this.deps.upstreamCalls ? { calls: this.deps.upstreamCalls } : {}),
    };
  }

  /** Prepares a connection's config for `owner` (its credentials); the injected values are redacted from then on. */
  async prepare(name: string, server: ServerConfig, owner: Principal | null, onLeases: (ids: readonly string[]) => void): Promise<ServerConfig> {
    if (!this.deps.prepareServer) return server;
    const prepared = await this.deps.prepareServer(name, server, owner);
    if (!('secrets' in prepared)) return prepared;
    const leased = new Set(prepared.leaseSecrets ?? []);
    this.redactor.add(prepared.secrets.filter((x) => !leased.has(x)));
    const task = owner?.task;
    if (leased.size > 0) this.redactor.add(leased, task ? `task:${task}` : '');
    onLeases(prepared.leaseIds ?? []);
    return prepared.server;
  }

  activeOn(upstream: string, tag?: unknown): boolean {
    if (tag !== undefined) return this.active.has(tag as Active) && (tag as Active).upstream === upstream;
    for (const a of this.active) if (a.upstream === upstream) return true;
    return false;
  }

  ownsProgressToken(token: string): boolean {
    return this.progressRoutes.has(token);
  }

  subscribedTo(upstream: string, uri: string): boolean {
    return this.subscriptions.get(upstream)?.has(uri) ?? false;
  }

  /** Keeps track of this session's resource subscriptions (resources/subscribe and unsubscribe forwarded for it). */
  noteSubscription(upstream: string, uri: string, on: boolean): void {
    let set = this.subscriptions.get(upstream);
    if (!set) this.subscriptions.set(upstream, (set = new Set()));
    if (on) set.add(uri);
    else set.delete(uri);
  }

  /**
   * One kind of list from `upstream`, as its connection last listed it, else from `fetch` (then kept on the
   * connection for the other sessions on it, until the upstream says it changed or reconnects).
   */
  async connectionList(upstream: string, kind: ListKind, fetch: () => Promise<Record<string, unknown>[]>, fresh = false): Promise<Record<string, unknown>[]> {
    const conn = this.deps.pool.peek(this, upstream);
    const kept = fresh ? undefined : conn?.lists.get(kind);
    if (kept !== undefined) return kept;
    const items = await fetch();
    if (conn !== undefined && this.deps.pool.peek(this, upstream) === conn) conn.lists.set(kind, items);
    return items;
  }

  /** True when another session on this session's connection to `upstream` is subscribed to `uri`. */
  subscribedByOthers(upstream: string, uri: string): boolean {
    const conn = this.deps.pool.peek(this, upstream);
    return conn !== undefined && [...conn.members].some((m) => m !== this && m.subscribedTo(upstream, uri));
  }

  /** True when `upstream`'s connection is shared by every principal (share: shared). */
  sharedByAll(upstream: string): boolean {
    const server = this.deps.servers.get(upstream);
    return server !== undefined && effectiveShare(server) === 'shared';
  }

  connectionReady(upstream: string): void {
    // A reconnect may bring changed definitions: relisted now, so they are checked against their pins at once.
    // A connection that closed (idle, evicted) is not reopened for this: the next use lists again anyway.
    const had = (['tools', 'prompts'] as const).filter((k) => this.catalog.has(upstream, k));
    this.catalog.invalidate(upstream);
    if (this.deps.pool.peek(this, upstream) === undefined) return;
    for (const k of had) this.deps.onListChanged?.(this, upstream, k);
  }

  private readonly redactLogged = (v: unknown): unknown => (typeof v === 'string' ? this.redactor.text(v) : v);

  /** The leases the connection to `upstream` was opened with (credentials used by its calls). */
  leaseIds(upstream: string): readonly string[] {
    return this.deps.pool.peek(this, upstream)?.leaseIds ?? [];
  }

  /** `value` with every secret the gateway injected shown as `[redacted:NAME]`: what approvers are shown of a call. */
  concealSecrets<T>(value: T): T {
    return this.redactor.json(value).value;
  }

  /** `value` (a result from `upstream`) with every secret injected into any upstream replaced by `[redacted:NAME]`. */
  redact<T>(upstream: string, value: T): Redacted<T> {
    return this.logRedaction(upstream, this.redactor.json(value));
  }

  /** The same for an error an upstream answered with (its message and data). */
  redactError(upstream: string, err: unknown): Redacted<unknown> {
    return this.logRedaction(upstream, this.redactor.error(err));
  }

  private logRedaction<T>(upstream: string, r: Redacted<T>): Redacted<T> {
    if (r.redacted) this.deps.log.warn({ upstream, secrets: r.names }, 'upstream output held injected secret values: redacted');
    return r;
  }

  /**
   * Runs `fn` as an in-flight request to `upstream`, so relays and progress find the right stream. A client's
   * progress token is replaced by one the gateway owns, so two requests (or two stateless clients) that pick
   * the same token never receive each other's progress; it is mapped back on the way to the client.
   */
  async track<T>(
    upstream: string,
    out: RequestOutbound,
    params: Params | undefined,
    fn: (params: Params | undefined, tag: unknown) => Promise<T>,
    onRedacted?: () => void,
  ): Promise<T> {
    const a: Active = { upstream, out, onRedacted };
    this.active.add(a);
    const meta = params?._meta as Record<string, unknown> | undefined;
    const clientToken = meta?.progressToken;
    let token: string | undefined;
    if (typeof clientToken === 'string' || typeof clientToken === 'number') {
      token = uniqueToken('warden-progress-');
      this.progressRoutes.set(token, { out, clientToken });
      params = { ...params, _meta: { ...meta, progressToken: token } };
    }
    try {
      return await fn(params, a);
    } finally {
      this.active.delete(a);
      if (token !== undefined) this.progressRoutes.delete(token);
    }
  }

  /**
   * The stream for a message caused by `upstream`: its newest in-flight request, else the standalone stream.
   * A shared (stateless) session serves many clients, so there it must be the only request in flight, or the
   * message is dropped rather than shown to a client that did not cause it.
   */
  private streamFor(upstream: string, tag?: Active): Outbound | undefined {
    return this.activeFor(upstream, tag)?.out ?? (this.init.id === null ? undefined : this.standalone);
  }

  /** The in-flight request a message from `upstream` belongs to, by the same rules. */
  private activeFor(upstream: string, tag?: Active): Active | undefined {
    if (tag && this.active.has(tag)) return tag;
    const candidates = [...this.active].filter((a) => a.upstream === upstream);
    return this.init.id === null ? (candidates.length === 1 ? candidates[0] : undefined) : candidates.at(-1);
  }

  /** An upstream's message on its way to the client, redacted; the request it belongs to learns of a redaction. */
  private redactRelayed<T>(upstream: string, value: T, tag?: Active): T {
    const r = this.redact(upstream, value);
    if (r.redacted) this.activeFor(upstream, tag)?.onRedacted?.();
    return r.value;
  }

  /** True for the session shared by stateless (2026-07-28) requests: its upstream state belongs to no one client. */
  get shared(): boolean {
    return this.init.id === null;
  }

  relayNotification(upstream: string, n: JsonRpcNotification, tag?: Active): void {
    n = this.redactRelayed(upstream, n, tag);
    const method = n.method;
    if (method === 'notifications/progress') {
      const token = n.params?.progressToken;
      // Only a token the gateway handed out routes anywhere (an object here would not even convert to a string).
      const route = typeof token === 'string' ? this.progressRoutes.get(token) : undefined;
      route?.out.send({ ...n, params: { ...n.params, progressToken: route.clientToken } });
      return;
    }
    if (method.endsWith('/list_changed')) {
      const kinds: Record<string, ListKind[]> = {
        'notifications/tools/list_changed': ['tools'],
        'notifications/prompts/list_changed': ['prompts'],
        'notifications/resources/list_changed': ['resources', 'resourceTemplates'],
      };
      for (const k of kinds[method] ?? []) this.catalog.invalidate(upstream, k);
      if (method === 'notifications/tools/list_changed') this.deps.onListChanged?.(this, upstream, 'tools');
      if (method === 'notifications/prompts/list_changed') this.deps.onListChanged?.(this, upstream, 'prompts');
      this.standalone?.send(n);
      this.listeners.send(n);
      return;
    }
    if (method === 'notifications/message') {
      this.streamFor(upstream, tag)?.send(n);
      return;
    }
    if (method === 'notifications/tasks/status') {
      // Only about a task of this session.
      if (this.tasks.has(n.params?.taskId)) this.standalone?.send(n);
      return;
    }
    if (method === 'notifications/resources/updated') {
      this.standalone?.send(n);
      this.listeners.send(n);
      return;
    }
    this.deps.log.debug({ upstream, method }, 'upstream notification not relayed');
  }

  /** Opens a listen stream; returns its closer, or undefined when this caller has too many open. */
  listen(l: Listener): (() => void) | undefined {
    return this.listeners.add(l);
  }

  /** Relays a server-to-client request from `upstream` to this session's client and returns its answer. */
  relayRequest(upstream: string, req: JsonRpcRequest, tag?: Active): Promise<Record<string, unknown>> {
    const needed = REQUIRED_CAPABILITY[req.method];
    if (req.method === 'ping') return Promise.resolve({});
    if (req.method === 'roots/list') return this.rootsFor(upstream, tag);
    if (this.shared) {
      // A stateless client takes no requests: the question goes back in an input-required result.
      const ask = this.activeFor(upstream, tag)?.out.ask;
      if (needed && ask) return ask(req.method, this.redactRelayed(upstream, req.params, tag));
      return Promise.reject(new WardenError('client_capability_missing', `The client cannot answer ${req.method} now`, JsonRpcCode.MethodNotFound));
    }
    if (!needed || !(needed in this.init.clientCapabilities)) {
      return Promise.reject(new WardenError('client_capability_missing', `The client does not support ${req.method}`, JsonRpcCode.MethodNotFound));
    }
    return this.askClient(this.streamFor(upstream, tag), req.method, this.redactRelayed(upstream, req.params, tag));
  }

  /**
   * A 2026-07-28 upstream's questions (its input-required result) put to this session's client, each as the
   * request it stands for on the call's stream, under the same rules as a relayed request; the answers by key.
   */
  async answerInputRequests(upstream: string, requests: unknown, out: Outbound): Promise<Record<string, unknown>> {
    const answers: Record<string, unknown> = {};
    const entries = typeof requests === 'object' && requests !== null ? Object.entries(requests as Record<string, unknown>) : [];
    for (const [key, q] of entries) {
      const { method, params } = (typeof q === 'object' && q !== null ? q : {}) as { method?: unknown; params?: Params };
      if (method === 'roots/list') answers[key] = await this.rootsFor(upstream);
      else if (typeof method === 'string' && REQUIRED_CAPABILITY[method] !== undefined && REQUIRED_CAPABILITY[method] in this.init.clientCapabilities) {
        answers[key] = await this.askClient(out, method, params);
      } else throw new WardenError('client_capability_missing', `The client does not support ${String(method)}`, JsonRpcCode.MethodNotFound);
    }
    return answers;
  }

  /**
   * Sends a request to this session's client on `out` (the stream of the request it concerns) and returns
   * its answer: for relayed upstream requests, and the gateway's own approval prompts.
   */
  askClient(out: Outbound | undefined, method: string, params: Params | undefined): Promise<Record<string, unknown>> {
    if (!out || this.closed) return Promise.reject(new WardenError('client_capability_missing', 'The client has no open stream to receive the request', JsonRpcCode.InternalError));
    return this.clientRequests.ask(out, method, params);
  }

  /** A client's answer to a relayed request. Returns false for an id the gateway never sent. */
  acceptClientResponse(res: JsonRpcResponse): boolean {
    return this.clientRequests.accept(res);
  }

  /**
   * The roots an upstream gets: its configured ones; where the operator opted in to client roots (and this
   * client has some), the client's, each narrowed to the configured ones and allowed by policy. A client
   * that does not answer leaves the configured roots in place.
   */
  private async rootsFor(upstream: string, tag?: Active): Promise<Record<string, unknown>> {
    const reach = this.deps.confinement.reach(upstream);
    if (reach.advertised.length === 0) throw new WardenError('method_not_found', 'The gateway lists no roots for this upstream', JsonRpcCode.MethodNotFound);
    const configured = { roots: reach.advertised.map((r) => ({ ...r })) };
    const ask = this.shared ? this.activeFor(upstream, tag)?.out.ask : undefined;
    if (!reach.clientRoots || this.deps.decideRoots === undefined) return configured;
    if (this.shared ? ask === undefined : !('roots' in this.init.clientCapabilities)) return configured;
    let answer: Record<string, unknown>;
    try {
      answer = await (ask ? ask('roots/list', undefined) : this.askClient(this.streamFor(upstream, tag), 'roots/list', undefined));
    } catch {
      return configured;
    }
    const candidates = narrowClientRoots(this.deps.confinement, upstream, answer);
    const allowed = await this.deps.decideRoots(this, upstream, [...candidates]);
    return { roots: allowed.map(rootOf) };
  }

  /** A client said its roots changed: upstreams that take client roots ask again (the others never see them). */
  clientRootsChanged(): void {
    for (const name of this.used) {
      if (this.deps.confinement.reach(name).clientRoots) void this.deps.pool.peek(this, name)?.client.notify('notifications/roots/list_changed');
    }
  }

  /**
   * The gateway's upstream set changed (a config reload): this session now uses `names`, in that order.
   * Connections to `dropped` upstreams (removed, or changed: the next use reconnects with the new config)
   * close now; the client is told its lists changed, so it lists again.
   */
  async reconfigure(names: readonly string[], dropped: readonly string[]): Promise<void> {
    this.deps.naming.upstreamCount = names.length;
    this.order.splice(0, this.order.length, ...names);
    for (const name of dropped) this.catalog.invalidate(name);
    this.catalog.rebuild();
    for (const method of ['notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/resources/list_changed']) {
      this.standalone?.send({ jsonrpc: '2.0', method });
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Stops this session's upstream connections (a stdio upstream's process exits) when the task it ran
   * under ends; a later request opens new ones, which a task check refuses first.
   */
  async closeUpstreams(): Promise<void> {
    await this.deps.pool.closeOwned(this);
    for (const name of this.used) this.catalog.invalidate(name);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clientRequests.rejectAll();
    await this.deps.pool.detach(this);
  }
}
