/**
 * The decision path for every MCP request: route, forward, record. Later steps (authenticate, decide, hold,
 * broker, filter) slot in here; this module composes the steps and owns none of their logic.
 */
import type { AuditDecision } from '../audit/event.js';
import type { ServerConfig } from '../config/schema.js';
import { ConcurrencyLimit } from '../core/limits.js';
import { Redactor } from '../credentials/redactor.js';
import { errorCodeOf, WardenError } from '../protocol/errors.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../protocol/jsonrpc.js';
import { MODERN_REVISION, SUPPORTED_REVISIONS } from '../protocol/revisions.js';
import { randomBytes } from 'node:crypto';
import { RequestStateCodec } from '../approvals/request-state.js';
import { InputRounds } from './input-rounds.js';
import { roundsContext } from './rounds-context.js';
import type { Principal } from '../identity/index.js';
import type { TaskFacts } from '../policy/index.js';
import { Authorizer, type ClientFacts } from './authorize.js';
import type { Collision } from './catalog.js';
import type { RequestOutbound } from './channel.js';
import type { GatewayOptions, RequestMeta } from './gateway-options.js';
import { discoverResult, initializeResult } from './handshake.js';
import { serverOfExposedName } from './naming.js';
import { Confinement, rootOf } from './reach.js';
import { auditPrincipal, outcomeOf, recordIntent, recordOutcome, recordRequest } from './request-audit.js';
import { relist, route, type RouteContext } from './router.js';
import { TaintLedger, type IntegrityEvent, type IntegrityGuard } from '../integrity/index.js';
import { integrityAuditDraft, integrityGuard, logIntegrityEvent, resultScanner } from './integrity-events.js';
import { GatewaySession, type SessionInit } from './session.js';
import { StatelessSessions } from './stateless.js';
import { surveyTools, type Survey } from './survey.js';
import { ConnectionPool } from './connections.js';
import { UpstreamClient } from '../upstream/index.js';
import { leaseReferences } from '../credentials/index.js';

/* The options and request facts, and the record step's events, live in their own files; re-exported for the ingress and index.ts. */
export type { GatewayOptions, RequestMeta } from './gateway-options.js';
export { auditPrincipal } from './request-audit.js';

/** For locally answered requests: nothing is streamed, nothing cancels. */
const NO_STREAM: RequestOutbound = { send: () => false, signal: new AbortController().signal };

export class Gateway {
  /** The upstreams in force: replaced in place by a config reload (the authorizer and every session read this map). */
  private readonly servers: Map<string, ServerConfig>;
  /** Every session opened (closed ones are dropped by the sweep), so a reload reaches them all. */
  private readonly sessions = new Set<GatewaySession>();
  private readonly stateless: StatelessSessions;
  /** Stateless calls parked while their client answers an upstream's question. */
  private readonly rounds: InputRounds;
  private readonly authorizer: Authorizer;
  private readonly confinement: Confinement;
  /** Every value injected into any upstream connection, for every principal: one upstream may serve several. */
  private readonly redactor: Redactor;
  /** Collisions already logged and audited (each once per process). */
  private readonly collisions = new Set<string>();
  /** Calls in flight per upstream, across every session (limits.maxConcurrentCallsPerUpstream). */
  private readonly upstreamCalls: ConcurrencyLimit;
  /** Every upstream connection, shared per each upstream's `share` mode. */
  readonly pool: ConnectionPool;
  /** Tool integrity: pins, quarantine, poisoning findings (src/integrity/). */
  readonly integrity: IntegrityGuard;
  /** Findings in tool results, per task (or session): `context.taint`. */
  private readonly taint = new TaintLedger();

  constructor(private readonly opts: GatewayOptions) {
    this.redactor = opts.redactor ?? new Redactor();
    const { config } = opts;
    this.servers = new Map(Object.entries(config.mcpServers).filter(([, s]) => !s.disabled));
    this.upstreamCalls = new ConcurrencyLimit(config.limits.maxConcurrentCallsPerUpstream);
    this.confinement = opts.confinement ?? new Confinement(this.servers, process.cwd());
    this.pool = new ConnectionPool({
      servers: this.servers,
      maxProcesses: config.limits.maxProcesses,
      maxProcessesPerPrincipal: config.limits.maxProcessesPerPrincipal,
      idleMs: config.limits.upstreamIdleMs,
      open: (upstream, server, conn, member, owner) => {
        const opener = member as GatewaySession;
        return new UpstreamClient({
          ...opener.clientOptions(upstream, server),
          onRequest: (req, tag) => this.pool.routeRequest(conn, req, tag),
          onNotification: (n, tag) => this.pool.routeNotification(conn, n, tag),
          onReady: () => this.pool.connectionReady(conn),
          ...(opts.prepareServer ? { prepare: (s: ServerConfig) => opener.prepare(upstream, s, owner, (ids) => (conn.leaseIds = ids)) } : {}),
        });
      },
    });
    const names = [...this.servers.keys()];
    this.authorizer = new Authorizer({
      policy: opts.policy,
      servers: this.servers,
      agents: config.agents,
      log: opts.log,
      approvals: opts.approvals,
      confinement: this.confinement,
      serverOfTool: (tool) => serverOfExposedName(tool, names, config.naming.prefix, config.naming.separator),
    });
    this.integrity = integrityGuard(this.servers, () => this.opts.config.integrity, opts.integrityStore, (e) => this.integrityEvent(e));
    // One seal for approval prompts and parked calls; without approval prompts a per-process key does (a
    // parked call lives in this process only).
    this.rounds = new InputRounds(opts.approvalPrompt?.state ?? new RequestStateCodec(randomBytes(32).toString('hex')), config.limits.callTimeoutMs);
    // Stateless connections declare what a stateless client may answer through input rounds; each request's
    // own _meta then says whether its client can (roundsFor), and a question it cannot answer is refused.
    const asked = { elicitation: { form: {}, url: {} }, sampling: {} };
    this.stateless = new StatelessSessions((owner) => this.openSession({ id: null, protocolVersion: SUPPORTED_REVISIONS[0]!, clientInfo: {}, clientCapabilities: asked, owner }), config.limits.sessionIdleMs, config.limits.maxSessions);
  }

  /** Sessions open on this replica (a stateless principal's set counts as one): for metrics. */
  sessionCount(): number {
    let n = 0;
    for (const s of this.sessions) if (!s.isClosed && s.id !== null) n++;
    return n + this.stateless.size;
  }

  get serverNames(): string[] {
    return [...this.servers.keys()];
  }

  /** Sessions opened with a task token, by task: their upstream processes stop when the task does. */
  private readonly taskSessions = new Map<string, Set<GatewaySession>>();
  /** Surveys in progress: closed with the gateway, so no upstream process outlives it. */
  private readonly surveys = new Set<GatewaySession>();
  private sweeper: NodeJS.Timeout | undefined;

  /** Stops the upstream connections (and stdio processes) of every session of a task that ended; its leases unlock nothing now. */
  async endTask(task: string): Promise<void> {
    const sessions = this.taskSessions.get(task);
    this.taskSessions.delete(task);
    await Promise.all([...(sessions ?? [])].map((s) => s.closeUpstreams()));
    this.redactor.forget(`task:${task}`);
    this.taint.forget(`task:${task}`);
  }

  /**
   * Replaces the upstream set (a config reload; `next` holds the enabled servers, in config order). Sessions
   * keep their connections to unchanged upstreams; connections to removed and changed ones close at once
   * (a changed one reconnects with its new config on next use); added ones are listed from the next list.
   */
  async reconfigureServers(next: ReadonlyMap<string, ServerConfig>): Promise<{ added: string[]; removed: string[]; changed: string[] }> {
    const same = (a: ServerConfig, b: ServerConfig): boolean => JSON.stringify(a) === JSON.stringify(b);
    const added = [...next.keys()].filter((n) => !this.servers.has(n));
    const removed = [...this.servers.keys()].filter((n) => !next.has(n));
    const changed = [...next.keys()].filter((n) => this.servers.has(n) && !same(this.servers.get(n)!, next.get(n)!));
    if (added.length + removed.length + changed.length === 0) return { added, removed, changed };
    this.servers.clear();
    for (const [name, server] of next) this.servers.set(name, server);
    this.confinement.update(this.servers);
    const names = [...next.keys()];
    const dropped = [...removed, ...changed];
    for (const s of this.sessions) if (s.isClosed) this.sessions.delete(s);
    await Promise.all([...this.sessions].map((s) => s.reconfigure(names, dropped)));
    await this.pool.closeUpstreams(dropped);
    return { added, removed, changed };
  }

  /** Finds tasks that ended elsewhere (the CLI, another replica) or expired, every `everyMs`. */
  startTaskSweep(everyMs = 5000): void {
    this.sweeper = setInterval(() => {
      for (const s of this.sessions) if (s.isClosed) this.sessions.delete(s);
      for (const [task, sessions] of this.taskSessions) {
        for (const s of sessions) if (s.isClosed) sessions.delete(s);
        if (sessions.size === 0) this.taskSessions.delete(task);
        else void this.opts.tasks?.isActive(task).then((alive) => (alive ? undefined : this.endTask(task)), () => undefined);
      }
    }, everyMs);
    this.sweeper.unref();
  }

  openSession(init: SessionInit): GatewaySession {
    const session = this.newSession(init);
    this.sessions.add(session);
    const task = init.owner?.task;
    if (task) {
      let set = this.taskSessions.get(task);
      if (!set) this.taskSessions.set(task, (set = new Set()));
      set.add(session);
    }
    return session;
  }

  /** `servers`: a subset of the configured upstreams (names stay as with all of them). */
  private newSession(init: SessionInit, servers: ReadonlyMap<string, ServerConfig> = this.servers): GatewaySession {
    const { config, log, version } = this.opts;
    const { limits } = config;
    return new GatewaySession(init, {
      pool: this.pool,
      servers,
      naming: { ...config.naming, upstreamCount: this.servers.size },
      callTimeoutMs: config.limits.callTimeoutMs,
      log,
      version,
      redactor: this.redactor,
      confinement: this.confinement,
      decideRoots: (session, upstream, roots) => this.decideRoots(session, upstream, roots),
      onCollision: (c, session) => this.collided(c, session),
      onListChanged: (session, upstream, kind) => this.relisted(session, upstream, kind),
      ...(this.opts.prepareServer ? { prepareServer: this.opts.prepareServer } : {}),
      upstreamBounds: { maxMessageBytes: limits.maxUpstreamMessageBytes, maxJsonDepth: limits.maxJsonDepth, maxNotificationsPerSecond: limits.maxUpstreamNotificationsPerSecond },
      upstreamCalls: this.upstreamCalls,
      onUpstreamDown: (upstream, sessionId, code) =>
        void this.recordOutcome('upstream/down', sessionId, { protocolVersion: null, startedAt: Date.now(), principal: null }, new WardenError(code, 'upstream connection lost'), upstream).catch(
          () => undefined,
        ),
    });
  }

  /**
   * The upstream connections for a stateless (2026-07-28) request of `principal`: its own set (its credentials,
   * only its own relayed messages), declaring no client capabilities.
   */
  statelessSession(principal: Principal | null): GatewaySession {
    return this.stateless.for(principal);
  }

  /** Answers initialize. No upstream starts here: connections open on first use (and are shared, see connections.ts). */
  initialize(session: GatewaySession, req: JsonRpcRequest, meta: RequestMeta): Promise<JsonRpcResponse> {
    return this.run(session, req, meta, async () => this.initializeResult(session.init.protocolVersion));
  }

  /** The client facts of a session, as policies read them. */
  private clientFacts(session: GatewaySession, protocolVersion: string | null): ClientFacts {
    return {
      transport: session.shared ? 'http-stateless' : 'http',
      name: typeof session.init.clientInfo.name === 'string' ? session.init.clientInfo.name : '',
      protocolVersion: protocolVersion ?? session.init.protocolVersion,
    };
  }

  /**
   * Which of `roots` (client roots already narrowed to the upstream's configured ones) the session's owner may
   * hand to `upstream`: each is a `use_root` decision, audited. A revoked owner or ended task gets none.
   */
  private async decideRoots(session: GatewaySession, upstream: string, roots: readonly string[]): Promise<string[]> {
    const owner = session.init.owner ?? null;
    let task: TaskFacts | undefined;
    try {
      if (owner !== null) this.opts.revocations?.check(owner);
      if (owner?.task) task = await this.opts.tasks?.active(owner.task, owner.agent, owner.chain);
    } catch {
      return [];
    }
    const allowed: string[] = [];
    for (const path of roots) {
      const authz = this.authorizer.forRequest(owner, this.clientFacts(session, null), task);
      const uri = rootOf(path).uri;
      let failure: unknown;
      try {
        authz.checkResource('use_root', upstream, uri);
        allowed.push(path);
      } catch (err) {
        failure = err;
      }
      await this.opts.audit
        .record({ startedAt: Date.now(), ...auditPrincipal(owner), sessionId: session.id, protocolVersion: null, method: 'roots/use', upstream, target: uri, argsDigest: null, decision: authz.decision, outcome: failure === undefined ? 'ok' : outcomeOf(failure), errorCode: failure === undefined ? null : errorCodeOf(failure) })
        .catch(() => undefined);
    }
    return allowed;
  }

  /** Several items claim one exposed name: logged and audited once per process, naming every upstream involved. */
  private collided(c: Collision, session: GatewaySession): void {
    const key = JSON.stringify([c.kind, c.key, c.upstreams]);
    if (this.collisions.has(key)) return;
    this.collisions.add(key);
    this.opts.log.warn({ kind: c.kind, name: c.key, upstreams: c.upstreams }, 'several upstream items claim one exposed name: all of them are withheld');
    void this.opts.audit
      .record({ startedAt: Date.now(), ...auditPrincipal(null), sessionId: session.id, protocolVersion: null, method: 'catalog/collision', upstream: [...new Set(c.upstreams)].join(', '), target: c.key, argsDigest: null, outcome: 'denied', errorCode: 'name_collision' })
      .catch(() => undefined);
  }

  /** Lists an upstream's tools or prompts again at once (it said they changed, or reconnected): checked against their pins now. */
  private relisted(session: GatewaySession, upstream: string, kind: 'tools' | 'prompts'): void {
    if (session.isClosed) return;
    const timeoutMs = (name: string) => this.servers.get(name)?.timeoutMs ?? this.opts.config.limits.callTimeoutMs;
    void relist(session, kind, upstream, { timeoutMs, authz: this.authorizer.forRequest(null, this.clientFacts(session, null)), integrity: this.integrity }).catch(
      (err: unknown) => this.opts.log.warn({ upstream, kind, err: errorCodeOf(err) }, 'relisting after a change failed'),
    );
  }

  /** A pin recorded, a changed definition quarantined, a decision: logged and audited. */
  private integrityEvent(e: IntegrityEvent): void {
    logIntegrityEvent(this.opts.log, e);
    void this.opts.audit.record(integrityAuditDraft(e)).catch(() => undefined);
  }

  /** Starts and lists every upstream once, and says what each principal may see: for start-up logs and `warden doctor`. */
  async survey(principals: readonly Principal[]): Promise<Survey> {
    // Upstreams that use a lease connect only within a task: not started here, reported as such.
    const withinTask = [...this.servers].filter(([, s]) => leaseReferences(s).length > 0).map(([name]) => name);
    const startable = new Map([...this.servers].filter(([name]) => !withinTask.includes(name)));
    const session = this.newSession({ id: null, protocolVersion: SUPPORTED_REVISIONS[0]!, clientInfo: {}, clientCapabilities: {} }, startable);
    this.surveys.add(session);
    try {
      const timeout = (name: string) => this.servers.get(name)?.timeoutMs ?? this.opts.config.limits.callTimeoutMs;
      return await surveyTools(session, this.authorizer, principals, timeout, withinTask);
    } finally {
      this.surveys.delete(session);
      await session.close();
    }
  }

  initializeResult(protocolVersion: string): Record<string, unknown> {
    return initializeResult(protocolVersion, this.opts.version);
  }

  discoverResult(): Record<string, unknown> {
    return discoverResult(this.opts.version);
  }

  /** Handles one client request end to end and returns the response to send; never throws. */
  handle(session: GatewaySession, req: JsonRpcRequest, out: RequestOutbound, meta: RequestMeta): Promise<JsonRpcResponse> {
    return this.run(session, req, meta, (ctx) => route(ctx, req), out);
  }

  /** A request the gateway answers itself (initialize, server/discover): audited like any other. */
  handleLocal(session: GatewaySession, req: JsonRpcRequest, meta: RequestMeta, answer: () => Record<string, unknown>): Promise<JsonRpcResponse> {
    return this.run(session, req, meta, async () => answer());
  }

  private async run(
    session: GatewaySession,
    req: JsonRpcRequest,
    meta: RequestMeta,
    produce: (ctx: RouteContext) => Promise<Record<string, unknown>>,
    out: RequestOutbound = NO_STREAM,
  ): Promise<JsonRpcResponse> {
    session.lastSeen = Date.now();
    session.inFlight++;
    try {
      return await this.runCounted(session, req, meta, produce, out);
    } finally {
      session.inFlight--;
      session.lastSeen = Date.now();
    }
  }

  private async runCounted(
    session: GatewaySession,
    req: JsonRpcRequest,
    meta: RequestMeta,
    produce: (ctx: RouteContext) => Promise<Record<string, unknown>>,
    out: RequestOutbound,
  ): Promise<JsonRpcResponse> {
    let task: TaskFacts | undefined;
    let failure: unknown;
    const taskId = meta.principal?.task ?? null;
    if (meta.principal && this.opts.revocations) {
      // Revocation takes effect on the next request: checked before anything else is looked at.
      // In memory and synchronous: no await on the hot path.
      try {
        this.opts.revocations.check(meta.principal);
      } catch (err) {
        failure = err;
      }
    }
    if (taskId !== null && failure === undefined) {
      // A task token is good only while its task is active: read from the store on every request, so an
      // ended task refuses the next call on every replica. No task service means no task can be checked.
      if (this.opts.tasks === undefined) failure = new WardenError('task_inactive', 'Tasks are not available on this gateway', -32007);
      else task = await this.opts.tasks.active(taskId, meta.principal!.agent, meta.principal!.chain).catch((err: unknown) => void (failure = err));
    }
    // What a task read taints its later calls; without a task, the session's (or a stateless caller's).
    const taintKey = taskId !== null ? `task:${taskId}` : session.id !== null ? `session:${session.id}` : meta.principal ? `agent:${meta.principal.agent}` : null;
    const ctx: RouteContext = {
      session,
      out,
      timeoutMs: (name) => this.servers.get(name)?.timeoutMs ?? this.opts.config.limits.callTimeoutMs,
      argumentsMode: this.opts.config.audit.arguments,
      authz: this.authorizer.forRequest(meta.principal, this.clientFacts(session, meta.protocolVersion), task, this.taint.get(taintKey)),
      integrity: this.integrity,
      ...(this.opts.config.integrity.scanResults ? { scanResult: resultScanner(this.taint, taintKey, this.opts.config.integrity.allowedHosts) } : {}),
      audit: { upstream: null, target: null, argsDigest: null, arguments: null, upstreamStatus: null, decision: null },
      ...(meta.paramHeaders ? { paramHeaders: meta.paramHeaders } : {}),
      prompt: this.opts.approvalPrompt,
      ...(session.shared && meta.protocolVersion === MODERN_REVISION ? { rounds: roundsContext(this.rounds, session, req, meta.principal) } : {}),
      stillAllowed: async () => {
        // A held call ends when its caller is revoked or its task stops while it waits.
        const p = meta.principal;
        if (p && this.opts.revocations) this.opts.revocations.check(p);
        if (p?.task && this.opts.tasks) await this.opts.tasks.active(p.task, p.agent, p.chain);
      },
    };
    if (this.opts.config.audit.strict) ctx.beforeForward = () => recordIntent(this.opts.audit, ctx, req, meta, session);
    let result: Record<string, unknown> | undefined;
    if (failure !== undefined) {
      // Refused before routing (the task is not usable).
    } else if (!this.opts.audit.healthy() || !this.opts.audit.available()) {
      // The audit log failed on an earlier request (or is stuck), or its store is closed or not answering:
      // refuse before anything reaches an upstream.
      failure = new WardenError('audit_unavailable', 'The audit log is unavailable; the request was refused', -32004, 503);
    } else {
      try {
        result = await produce(ctx);
      } catch (err) {
        failure = err;
        if (errorCodeOf(err) === 'internal') this.opts.log.error({ err, method: req.method }, 'unexpected error');
      }
    }
    return recordRequest(this.opts.audit, ctx, req, meta, session, failure, result);
  }

  /** Records an event the ingress handled itself (a token exchange, a session ended). Throws if it cannot be stored. */
  async recordOutcome(method: string, sessionId: string | null, meta: RequestMeta, failure?: unknown, upstream: string | null = null, decision: AuditDecision | null = null): Promise<void> {
    await recordOutcome(this.opts.audit, method, sessionId, meta, failure, upstream, decision);
  }

  /** Records a message refused before it reached the decision path (bad JSON, bad headers, unknown session). */
  async recordRejected(method: string, sessionId: string | null, meta: RequestMeta, err: unknown): Promise<void> {
    await this.recordOutcome(method, sessionId, meta, err).catch(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.rounds.close();
    await Promise.all([this.stateless.close(), ...[...this.surveys].map((s) => s.close())]);
    await this.pool.close();
  }
}
