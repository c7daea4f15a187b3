/**
 * The upstream connection pool. Each upstream's `share` mode says how far one connection (one stdio process)
 * may be shared: by everyone (`shared`), by one person's sessions (`per-user`, the default: no upstream state
 * crosses between humans), by one session (`per-session`), or by one task (`per-task`: forced for an upstream
 * that uses leases, whose credentials belong to a task). Connections start on first use, close after
 * `idleMs` without a request, and stdio ones are capped at `maxProcesses` across the gateway and at
 * `maxProcessesPerPrincipal` for the connections of one person (so one cannot hold every process busy).
 *
 * A connection used by several sessions routes what its upstream sends to the request that caused it, never
 * to another session: by the transport's tag (the request whose stream carried it), by progress token (the
 * gateway hands out tokens unique across the process), or, for stdio, where exactly one request is in flight.
 * Anything it cannot attribute is dropped; only list_changed signals go to every session on the connection.
 */
import type { ServerConfig } from '../config/schema.js';
import { principalKey, type Principal } from '../identity/index.js';
import { limitKey } from '../ingress/limits.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcNotification, JsonRpcRequest } from '../protocol/jsonrpc.js';
import type { UpstreamClient } from '../upstream/index.js';
import { leaseReferences } from '../credentials/index.js';

export type ShareMode = 'shared' | 'per-user' | 'per-session' | 'per-task';

/** What the pool needs of a session: its owner, the capabilities it mirrors, and where relayed messages go. */
export interface PoolMember {
  readonly owner: Principal | null;
  /** Unique per session object (a stateless session has no id). */
  readonly memberId: number;
  /** The client capabilities mirrored to `upstream` (part of the key: a client without sampling never shares with one that has it). */
  mirroredCapabilities(upstream: string): Record<string, unknown>;
  /** True while a request of this member to `upstream` is in flight (or for `tag`, when it is this member's). */
  activeOn(upstream: string, tag?: unknown): boolean;
  ownsProgressToken(token: string): boolean;
  subscribedTo(upstream: string, uri: string): boolean;
  relayRequest(upstream: string, req: JsonRpcRequest, tag?: unknown): Promise<Record<string, unknown>>;
  relayNotification(upstream: string, n: JsonRpcNotification, tag?: unknown): void;
  /** The connection (re)connected: cached lists of it are stale. */
  connectionReady(upstream: string): void;
}

export interface Connection {
  readonly key: string;
  readonly upstream: string;
  readonly client: UpstreamClient;
  readonly members: Set<PoolMember>;
  readonly process: boolean;
  /** Whose process budget it counts against (the limits' principal); null for a shared one, which is nobody's. */
  readonly person: string | null;
  lastUsed: number;
  /** Leases the connection was opened with (set by its prepare step). */
  leaseIds: readonly string[];
  /**
   * What the upstream last listed on this connection, by kind, kept once for every session on it (the same
   * upstream answer for each; every session filters it by its own policy when it lists).
   */
  readonly lists: Map<string, Record<string, unknown>[]>;
}

export interface PoolOptions {
  servers: ReadonlyMap<string, ServerConfig>;
  maxProcesses: number;
  /** Processes the connections of one principal (limits.ts `limitKey`) may hold; default: no cap of its own. */
  maxProcessesPerPrincipal?: number;
  idleMs: number;
  /** Opens a client whose messages go to `route` and which prepares its config for `owner`. */
  /** Opens the client of `conn` for `member` (the first to use it), with credentials prepared for `owner`. */
  open: (upstream: string, server: ServerConfig, conn: Connection, member: PoolMember, owner: Principal | null) => UpstreamClient;
  now?: () => number;
}

/**
 * The share mode that applies: leases force per-task; per-user credentials (userSecrets, and `auth`: each
 * person's own OAuth token or key) never go to a shared connection.
 */
export function effectiveShare(server: ServerConfig): ShareMode {
  if (leaseReferences(server).length > 0) return 'per-task';
  const mode = server.share ?? 'per-user';
  if (mode === 'shared' && (server.userSecrets !== undefined || ('url' in server && server.auth !== undefined))) return 'per-user';
  return mode;
}

/** Who a connection in `mode` belongs to; members with the same owner key may share it. */
function ownerKey(mode: ShareMode, m: PoolMember): string {
  const p = m.owner;
  // A session of nobody (the start-up survey) never shares.
  if (p === null || mode === 'per-session') return `session:${m.memberId}`;
  if (mode === 'shared') return 'shared';
  if (mode === 'per-task') return p.task ? `task:${JSON.stringify([p.tenant, p.task])}` : `principal:${principalKey(p)}`;
  // per-user: the human; a principal acting for no human is keyed by its own agent identity.
  return p.user !== null ? `user:${JSON.stringify([p.tenant, p.user])}` : `agent:${JSON.stringify([p.tenant, p.issuer, p.agent])}`;
}

export class ConnectionPool {
  private readonly byKey = new Map<string, Connection>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly opts: PoolOptions) {
    this.now = opts.now ?? Date.now;
    this.sweeper = setInterval(() => void this.reap(), Math.min(30_000, Math.max(500, Math.floor(opts.idleMs / 2))));
    this.sweeper.unref();
  }

  /** Open connections (and how many are stdio processes). */
  get stats(): { connections: number; processes: number } {
    let processes = 0;
    for (const c of this.byKey.values()) if (c.process) processes++;
    return { connections: this.byKey.size, processes };
  }

  keyFor(member: PoolMember, upstream: string): string {
    const server = this.opts.servers.get(upstream);
    if (!server) throw new WardenError('upstream_unavailable', `No upstream named "${upstream}"`, JsonRpcCode.UpstreamUnavailable);
    const capabilities = member.mirroredCapabilities(upstream);
    let mode = effectiveShare(server);
    // Unset share on stdio: a client that takes server-to-client requests gets its own process, since stdio
    // cannot say which request a message belongs to once two sessions call at once.
    const relays = 'sampling' in capabilities || 'elicitation' in capabilities;
    if (server.share === undefined && mode === 'per-user' && 'command' in server && relays) mode = 'per-session';
    return JSON.stringify([upstream, ownerKey(mode, member), capabilities]);
  }

  /** `member`'s connection to `upstream`, opened (not yet connected) when there is none. */
  acquire(member: PoolMember, upstream: string): Connection {
    const key = this.keyFor(member, upstream);
    let conn = this.byKey.get(key);
    if (conn === undefined) {
      const server = this.opts.servers.get(upstream)!;
      const process = 'command' in server;
      // A shared connection carries nobody's credentials: it is prepared for no owner, and counts against nobody.
      const owner = effectiveShare(server) === 'shared' ? null : member.owner;
      const person = process && owner !== null ? limitKey(owner) : null;
      const own = this.opts.maxProcessesPerPrincipal;
      if (person !== null && own !== undefined && this.processesOf(person) >= own && !this.evictIdleProcess(person)) {
        const message = `This principal runs its maximum of ${own} upstream processes; end a session or try again later`;
        throw new WardenError('process_limit', message, JsonRpcCode.ProcessLimit, 503, { retryAfter: 1 });
      }
      if (process && this.stats.processes >= this.opts.maxProcesses && !this.evictIdleProcess()) {
        const message = `The gateway runs its maximum of ${this.opts.maxProcesses} upstream processes; try again later`;
        throw new WardenError('process_limit', message, JsonRpcCode.ProcessLimit, 503, { retryAfter: 1 });
      }
      const placeholder = undefined as unknown as UpstreamClient;
      const created: Connection = { key, upstream, members: new Set(), process, person, lastUsed: this.now(), leaseIds: [], lists: new Map(), client: placeholder };
      (created as { client: UpstreamClient }).client = this.opts.open(upstream, server, created, member, owner);
      this.byKey.set(key, (conn = created));
    }
    conn.members.add(member);
    conn.lastUsed = this.now();
    return conn;
  }

  /** The connection `member` would use now, if it is open. */
  peek(member: PoolMember, upstream: string): Connection | undefined {
    return this.opts.servers.has(upstream) ? this.byKey.get(this.keyFor(member, upstream)) : undefined;
  }

  /** A server-to-client request from `conn`: to the member that caused it, else refused. */
  routeRequest(conn: Connection, req: JsonRpcRequest, tag?: unknown): Promise<Record<string, unknown>> {
    const member = this.attribute(conn, tag);
    if (member === undefined) {
      const message = 'The request cannot be attributed to one client of this shared connection';
      return Promise.reject(new WardenError('client_capability_missing', message, JsonRpcCode.InternalError));
    }
    return member.relayRequest(conn.upstream, req, tag);
  }

  /** A notification from `conn`: progress by its token, list changes to every member, the rest only where attributable. */
  routeNotification(conn: Connection, n: JsonRpcNotification, tag?: unknown): void {
    if (n.method === 'notifications/progress') {
      const token = n.params?.progressToken;
      if (typeof token !== 'string') return;
      for (const m of conn.members) if (m.ownsProgressToken(token)) return m.relayNotification(conn.upstream, n, tag);
      return;
    }
    if (n.method.endsWith('/list_changed')) {
      conn.lists.clear();
      // Carries nothing but the signal; each member lists again through its own policy filter.
      for (const m of conn.members) m.relayNotification(conn.upstream, n);
      return;
    }
    if (n.method === 'notifications/resources/updated') {
      const uri = n.params?.uri;
      if (typeof uri !== 'string') return;
      for (const m of conn.members) if (conn.members.size === 1 || m.subscribedTo(conn.upstream, uri)) m.relayNotification(conn.upstream, n);
      return;
    }
    this.attribute(conn, tag)?.relayNotification(conn.upstream, n, tag);
  }

  /**
   * The one member a message belongs to: the tag's owner; else the member with a request in flight when it is
   * the only one; else the only member. Two members busy at once on a stdio connection: nobody (dropped).
   * A tagged message whose request has ended belongs to nobody now (never to whoever else is busy).
   */
  private attribute(conn: Connection, tag?: unknown): PoolMember | undefined {
    if (tag !== undefined) {
      for (const m of conn.members) if (m.activeOn(conn.upstream, tag)) return m;
      return conn.members.size === 1 ? [...conn.members][0] : undefined;
    }
    const busy = [...conn.members].filter((m) => m.activeOn(conn.upstream));
    if (busy.length === 1) return busy[0];
    if (busy.length === 0 && conn.members.size === 1) return [...conn.members][0];
    return undefined;
  }

  connectionReady(conn: Connection): void {
    conn.lists.clear();
    for (const m of conn.members) m.connectionReady(conn.upstream);
  }

  /** `member` ended: it receives nothing more; connections only it could use (per-session) close now. */
  async detach(member: PoolMember, closeOwn = true): Promise<void> {
    const closing: Connection[] = [];
    for (const conn of this.byKey.values()) {
      if (!conn.members.delete(member)) continue;
      if (closeOwn && conn.members.size === 0 && conn.key.includes(`"session:${member.memberId}"`)) closing.push(conn);
    }
    await Promise.all(closing.map((c) => this.closeConnection(c)));
  }

  /** Closes the connections of `member` that carry its task's or its own credentials (a task ended). */
  async closeOwned(member: PoolMember): Promise<void> {
    const closing = [...this.byKey.values()].filter((c) => c.members.has(member) && /"(task|session|principal):/.test(c.key));
    await Promise.all(closing.map((c) => this.closeConnection(c)));
  }

  /** Closes every connection to `upstreams` (removed or changed by a reload): the next use reconnects. */
  async closeUpstreams(upstreams: readonly string[]): Promise<void> {
    await Promise.all([...this.byKey.values()].filter((c) => upstreams.includes(c.upstream)).map((c) => this.closeConnection(c)));
  }

  private async closeConnection(conn: Connection): Promise<void> {
    if (this.byKey.get(conn.key) === conn) this.byKey.delete(conn.key);
    conn.lists.clear();
    for (const m of conn.members) m.connectionReady(conn.upstream);
    await conn.client.close().catch(() => undefined);
  }

  private processesOf(person: string): number {
    let n = 0;
    for (const c of this.byKey.values()) if (c.process && c.person === person) n++;
    return n;
  }

  /**
   * Closes the least recently used idle stdio connection (of `person`, when given) to make room; false when every one is busy. A
   * connection used in the last second counts as busy: its session is between two steps of one request.
   */
  private evictIdleProcess(person?: string): boolean {
    const quiet = this.now() - 1_000;
    const idle = [...this.byKey.values()]
      .filter((c) => c.process && (person === undefined || c.person === person) && !c.client.busy && Math.max(c.lastUsed, c.client.lastActive) < quiet)
      .sort((a, b) => a.lastUsed - b.lastUsed)[0];
    if (idle === undefined) return false;
    void this.closeConnection(idle);
    return true;
  }

  /** Closes connections with no request for idleMs. */
  async reap(): Promise<void> {
    const cutoff = this.now() - this.opts.idleMs;
    const idle = [...this.byKey.values()].filter((c) => !c.client.busy && Math.max(c.lastUsed, c.client.lastActive) < cutoff);
    await Promise.all(idle.map((c) => this.closeConnection(c)));
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.byKey.values()].map((c) => this.closeConnection(c)));
  }
}
