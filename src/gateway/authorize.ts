/**
 * The decide step: turns a routed request into a Cedar decision and enforces it before anything reaches an
 * upstream. A deny or a needed approval throws (the call never leaves the gateway); lists keep only what
 * the caller may use. Every decision is left on the request for its audit event.
 */
import type { AuditDecision } from '../audit/event.js';
import type { AgentConfig, ServerConfig } from '../config/index.js';
import type { Principal } from '../identity/principal.js';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  canonicalPathArguments,
  canonicalUri,
  PolicyInputError,
  type ActionName,
  type CallContext,
  type GatewayDecision,
  type GatewayPolicy,
  type Subject,
  type Target,
  type TaintFacts,
  type TaskFacts,
} from '../policy/index.js';
import { inGrant } from '../tasks/index.js';
import type { ApprovalService, HoldHooks } from '../approvals/index.js';
import { redactArguments } from '../audit/redact.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { Logger } from '../telemetry/log.js';
import type { Entry, ListKind } from './catalog.js';
import { InputRequired, type Holder } from './approval-prompt.js';
import { forwardedParams } from './forwarded-call.js';
import { classifyTool, serverFacts } from './classification.js';
import { factsOf } from '../integrity/index.js';
import { RateMeter } from './rate-meter.js';
import type { Confinement } from './reach.js';
import { EmptyListReporter, tenantHint, type HiddenItem } from './visibility.js';

export interface AuthorizerOptions {
  /** The policy set in force; read once per request. */
  policy: () => GatewayPolicy;
  servers: ReadonlyMap<string, ServerConfig>;
  agents: Readonly<Record<string, AgentConfig>>;
  log: Logger;
  /** Holds calls that need approval; absent: they are refused with approval_required. */
  approvals?: ApprovalService | undefined;
  /** The upstreams' roots, symlink resolution and the guard on the gateway's own files. */
  confinement: Confinement;
  /** The server an exposed tool name belongs to (for task grants that name tools). */
  serverOfTool: (tool: string) => string | undefined;
  now?: () => number;
}

/** What a tool call brings besides its arguments, for the approval that may hold it. */
export interface HeldCall {
  /** The rest of the params forwarded with the call (callParts in forwarded-call.ts). */
  rest: Record<string, unknown>;
  /** Replaces values injected from the vault by their names, in what approvers are shown. */
  conceal?: (params: Record<string, unknown>) => Record<string, unknown>;
  /** How the call is held (an approval prompt, see approval-prompt.ts); default: a plain hold. */
  hold?: Holder;
}

export interface ClientFacts {
  transport: string;
  name: string;
  protocolVersion: string;
}

/** The policy subject of a principal: its registration adds the tenant (if the token has none), owner and groups. */
export function subjectOf(agents: Readonly<Record<string, AgentConfig>>, p: Principal): Subject {
  const reg = Object.hasOwn(agents, p.agent) ? agents[p.agent] : undefined;
  return { agent: p.agent, user: p.user, tenant: p.tenant ?? reg?.tenant ?? null, chain: p.chain, owner: reg?.owner, groups: reg?.groups ?? [], authMethod: p.method, issuer: p.issuer, scopes: p.scopes };
}

const USE_ACTION: Record<ListKind, ActionName> = { tools: 'call_tool', prompts: 'get_prompt', resources: 'read_resource', resourceTemplates: 'read_resource' };

export class Authorizer {
  private readonly meter: RateMeter;
  private readonly toolTargets = new WeakMap<object, Target>();
  private readonly serverTargets = new WeakMap<ServerConfig, Target>();
  readonly emptyLists: EmptyListReporter;

  constructor(private readonly opts: AuthorizerOptions) {
    this.meter = new RateMeter(opts.now);
    this.emptyLists = new EmptyListReporter(opts.log);
  }

  get approvals(): ApprovalService | undefined {
    return this.opts.approvals;
  }

  get confinement(): Confinement {
    return this.opts.confinement;
  }

  serverOfTool(tool: string): string | undefined {
    return this.opts.serverOfTool(tool);
  }

  /** The decide step for one request by `principal` (null: not authenticated, so everything is denied). */
  forRequest(principal: Principal | null, client: ClientFacts, task?: TaskFacts, taint?: TaintFacts): RequestAuthorization {
    return new RequestAuthorization(this, this.opts.policy(), principal === null ? null : this.subject(principal), client, task, taint);
  }

  subject(p: Principal): Subject {
    return subjectOf(this.opts.agents, p);
  }

  target(kind: ListKind, entry: Entry): Target {
    const cfg = this.opts.servers.get(entry.upstream);
    if (cfg === undefined) throw new WardenError('internal', 'route to an unconfigured upstream');
    const server = serverFacts(entry.upstream, cfg);
    if (kind === 'tools') {
      // One Target per listed tool, so the policy can reuse what it prepared for it.
      let t = this.toolTargets.get(entry.item);
      if (t === undefined) {
        const integrity = factsOf(entry.integrity);
        this.toolTargets.set(entry.item, (t = { kind: 'tool', server, id: String(entry.item.name), name: entry.original, class: classifyTool(cfg, { ...entry.item, name: entry.original }), integrity }));
      }
      return t;
    }
    if (kind === 'prompts') return { kind: 'prompt', server, id: String(entry.item.name), name: entry.original, integrity: factsOf(entry.integrity) };
    return { kind: 'resource', server, uri: entry.original };
  }

  serverTarget(name: string): Target {
    const cfg = this.opts.servers.get(name);
    if (cfg === undefined) throw new WardenError('internal', 'route to an unconfigured upstream');
    // One Target per server config object (a reload makes new ones), so the policy reuses what it prepared for it.
    let t = this.serverTargets.get(cfg);
    if (t === undefined) this.serverTargets.set(cfg, (t = { kind: 'server', server: serverFacts(name, cfg) }));
    return t;
  }

  callsPerMinute(agent: string, count: boolean): number {
    return count ? this.meter.hit(agent) : this.meter.peek(agent);
  }

  get now(): Date {
    return new Date((this.opts.now ?? Date.now)());
  }

  logErrors(d: GatewayDecision): void {
    if (d.errors.length > 0) this.opts.log.warn({ policyErrors: d.errors, policyVersion: d.version }, 'policies skipped because their evaluation failed');
  }
}

/** One request's view of the decide step; `decision` is what its audit event records. */
export class RequestAuthorization {
  decision: AuditDecision | null = null;
  /** The approval this call used, or the request it waits on. */
  approvalId: string | null = null;
  /** The arguments as they will be forwarded (paths normalised), once read; what the audit digest covers. */
  forwarded: Record<string, unknown> | undefined;
  /** Reachability decided for this request, by upstream. */
  private readonly reachable = new Map<string, boolean>();

  constructor(
    private readonly authz: Authorizer,
    private readonly policy: GatewayPolicy,
    private readonly subject: Subject | null,
    private readonly client: ClientFacts,
    /** The task the caller's token is for: calls are limited to its grant. */
    private readonly task: TaskFacts | undefined,
    /** Findings in results the task (or session) read before: `context.taint`. */
    private readonly taint?: TaintFacts | undefined,
  ) {}

  private context(args: Record<string, unknown> | undefined): CallContext {
    const agent = this.subject?.agent ?? '';
    return { arguments: args, task: this.task, approval: 'none', now: this.authz.now, client: this.client, callsPerMinute: this.authz.callsPerMinute(agent, args !== undefined), taint: this.taint };
  }

  /** Outside the task's grant, nothing is allowed, whatever the policies say. */
  private granted(target: Target): boolean {
    if (this.task === undefined || target.kind === 'server') return true;
    return inGrant(this.task, target.server.name, target.kind === 'tool' ? target.id : undefined);
  }

  /**
   * Whether this request may cause any traffic to `upstream`: the caller may list the server, and a task's
   * grant includes it (the whole server or one of its tools). An upstream it may not reach is never
   * connected, listed or asked for this caller (and a lease for it is never created).
   */
  mayReach(upstream: string): boolean {
    let ok = this.reachable.get(upstream);
    if (ok !== undefined) return ok;
    ok = this.subject !== null;
    if (ok && this.task !== undefined) ok = this.task.servers.includes(upstream) || this.task.tools.some((t) => this.authz.serverOfTool(t) === upstream);
    if (ok) ok = this.policy.visible('list', this.subject!, [this.authz.serverTarget(upstream)], this.context(undefined))[0] === true;
    this.reachable.set(upstream, ok);
    return ok;
  }

  /** The refusal of a use of an upstream (or, undefined, of any upstream) the caller may not reach (recorded as a deny). */
  unreachable(upstream?: string): WardenError {
    const refuse = (reason: string) => this.deny({ effect: 'deny', policyIds: [], reason, version: this.policy.version, errors: [] });
    if (this.subject === null) return refuse('the caller is not authenticated');
    if (upstream === undefined) return refuse(`no policy permits ${this.subject.agent} to list any server that could serve this`);
    if (!this.mayReachInTask(upstream)) return refuse(`server ${upstream} is outside the grant of task ${this.task?.id}`);
    // The `list` decision itself, so the refusal names the policy (a tenant forbid, ...) that made it.
    const d = this.policy.decide('list', this.subject, this.authz.serverTarget(upstream), this.context(undefined));
    return d.effect === 'deny' ? this.deny(d) : refuse(`no policy permits ${this.subject.agent} to list server ${upstream}`);
  }

  private mayReachInTask(upstream: string): boolean {
    return this.task === undefined || this.task.servers.includes(upstream) || this.task.tools.some((t) => this.authz.serverOfTool(t) === upstream);
  }

  /** A request refused because an address in it has no single meaning (recorded as a deny). */
  refuseInput(err: PolicyInputError): WardenError {
    return this.deny({ effect: 'deny', policyIds: [], reason: err.message, version: this.policy.version, errors: [] });
  }

  /**
   * The arguments with every path canonical as `upstream` sees it: relative paths resolved against its roots,
   * and, for a stdio upstream, symlinks followed. A path outside the upstream's configured roots, or one that
   * reaches the gateway's own files, is refused. Arguments that cannot be read are returned as they are: the
   * decision refuses them.
   */
  prepareArguments(upstream: string, args: unknown): unknown {
    if (typeof args !== 'object' || args === null || Array.isArray(args)) return args;
    const confinement = this.authz.confinement;
    const { roots, local } = confinement.reach(upstream);
    const names = this.policy.pathArgumentNames;
    let read;
    try {
      read = canonicalPathArguments(args as Record<string, unknown>, names, roots);
    } catch (err) {
      if (err instanceof PolicyInputError) return args;
      throw err;
    }
    const resolved = new Map<string, string>();
    for (const p of read.paths) {
      const real = local ? confinement.resolve(upstream, p) : p;
      this.confine(upstream, real, 'a path');
      if (real !== p) resolved.set(p, real);
    }
    return resolved.size === 0 ? read.args : canonicalPathArguments(read.args, names, roots, (p) => resolved.get(p) ?? p).args;
  }

  /** Refuses a (resolved) path outside the upstream's configured roots, or reaching the gateway's own files. */
  private confine(upstream: string, path: string, what: string): void {
    const confinement = this.authz.confinement;
    const refuse = (reason: string) => this.deny({ effect: 'deny', policyIds: [], reason, version: this.policy.version, errors: [] });
    const own = confinement.gatewayFile(upstream, path);
    if (own !== undefined) throw refuse(`${what} reaches the gateway's own files (${own.what})`);
    if (confinement.outsideRoots(upstream, path)) throw refuse(`${what} lies outside the roots of upstream ${upstream}`);
  }

  /**
   * A resource URI in canonical form as `upstream` sees it: a `file:` URI of a stdio upstream has its symlinks
   * followed; it may not leave the configured roots or reach the gateway's own files.
   */
  prepareUri(upstream: string, uri: string): string {
    if (!uri.startsWith('file:///')) return uri;
    const path = fileURLToPath(uri);
    const real = this.authz.confinement.resolve(upstream, path.length > 1 ? path.replace(/\/$/, '') : path);
    this.confine(upstream, real, 'the URI');
    return real === path ? uri : canonicalUri(pathToFileURL(real).href);
  }

  /**
   * Decides a use of one item (a tool call, a prompt, a resource read, a completion) and returns the
   * arguments to forward (path arguments normalised). Throws policy_denied or approval_required.
   */
  check(action: ActionName, kind: ListKind, entry: Entry, args?: unknown): Record<string, unknown> | undefined {
    return this.checkTarget(action, this.authz.target(kind, entry), args);
  }

  /** Decides a use of a resource (by URI) of one upstream. */
  checkResource(action: ActionName, upstream: string, uri: string): void {
    this.check(action, 'resources', { upstream, original: uri, item: {} });
  }

  /**
   * Decides a tool call; a call that needs approval is held until a human decides (when approvals are
   * configured), and goes ahead only with an approval bound to exactly this call, which it consumes.
   * `call.rest` is the rest of the params forwarded with it (see forwarded-call.ts): the approval binds them
   * with the arguments as decided.
   */
  async checkCall(entry: Entry, args: unknown, hooks: HoldHooks, call: HeldCall = { rest: {} }): Promise<Record<string, unknown> | undefined> {
    const target = this.authz.target('tools', entry);
    const approvals = this.authz.approvals;
    const forwarded = this.checkTarget('call_tool', target, args, approvals !== undefined);
    if (this.decision?.effect !== 'needs-approval' || approvals === undefined || this.subject === null) return forwarded;
    const s = this.subject;
    const params = forwardedParams(call.rest, entry.original, forwarded);
    const hold = call.hold ?? ((a, c, h) => a.hold(c, h));
    try {
      const used = await hold(
        approvals,
        {
          agent: s.agent,
          user: s.user,
          tenant: s.tenant,
          chain: s.chain,
          task: this.task?.id ?? null,
          upstream: entry.upstream,
          tool: String(entry.item.name),
          params,
          view: redactArguments(forwarded ?? {}),
          shown: call.conceal ? call.conceal(params) : params,
          reason: this.decision.reason ?? '',
          policyIds: this.decision.policyIds,
        },
        hooks,
      );
      this.approvalId = used.id;
    } catch (err) {
      // A refusal, or an input-required answer, names the request the call waits on.
      const id = err instanceof WardenError || err instanceof InputRequired ? err.data?.approvalId : undefined;
      if (typeof id === 'string') this.approvalId = id;
      throw err;
    }
    return forwarded;
  }

  private checkTarget(action: ActionName, target: Target, args?: unknown, holdable = false): Record<string, unknown> | undefined {
    if (this.subject === null) throw this.deny({ effect: 'deny', policyIds: [], reason: 'the caller is not authenticated', version: this.policy.version, errors: [] });
    if (!this.granted(target)) throw this.deny({ effect: 'deny', policyIds: [], reason: `outside the grant of task ${this.task?.id}`, version: this.policy.version, errors: [] });
    let forwarded: Record<string, unknown> | undefined;
    let d: GatewayDecision;
    try {
      const read = this.policy.readArguments(args, target.kind === 'server' ? [] : this.authz.confinement.reach(target.server.name).roots);
      forwarded = args === undefined ? undefined : read.forwarded;
      this.forwarded = forwarded;
      d = this.policy.decideArguments(action, this.subject, target, this.context(read.decided), read);
    } catch (err) {
      if (!(err instanceof PolicyInputError)) throw err;
      d = { effect: 'deny', policyIds: [], reason: err.message, version: this.policy.version, errors: [] };
    }
    this.authz.logErrors(d);
    this.decision = { effect: d.effect, policyIds: d.policyIds, reason: d.reason, policyVersion: d.version };
    if (d.effect === 'deny') throw this.deny(d);
    if (d.effect === 'needs-approval' && !holdable) {
      throw new WardenError('approval_required', `This call needs a human approval: ${d.reason}`, JsonRpcCode.ApprovalRequired);
    }
    return forwarded;
  }

  private deny(d: GatewayDecision): WardenError {
    this.decision = { effect: 'deny', policyIds: d.policyIds, reason: d.reason, policyVersion: d.version };
    return new WardenError('policy_denied', `Denied by policy: ${d.reason}`, JsonRpcCode.PolicyDenied);
  }

  /** Keeps the entries the caller may see: its server must allow `list`, the item its use. */
  filter(kind: ListKind, entries: readonly Entry[], unreached: readonly string[] = []): Entry[] {
    if (this.subject !== null && entries.length === 0 && unreached.length > 0) {
      this.authz.emptyLists.report(this.subject, kind, 0, this.firstUnreached(this.subject, unreached[0]!));
    }
    if (this.subject === null || entries.length === 0) return this.record(kind, [], entries.length);
    const ctx = this.context(undefined);
    const servers = [...new Set(entries.map((e) => e.upstream))];
    const listable = this.policy.visible('list', this.subject, servers.map((s) => this.authz.serverTarget(s)), ctx);
    const open = new Set(servers.filter((_, i) => listable[i]));
    const targets = entries.filter((e) => open.has(e.upstream)).map((e) => [e, this.authz.target(kind, e)] as const);
    const inTask = targets.filter(([, t]) => this.granted(t));
    const candidates = inTask.map(([e]) => e);
    const shown = this.policy.visible(USE_ACTION[kind], this.subject, inTask.map(([, t]) => t), ctx);
    const kept = candidates.filter((_, i) => shown[i]);
    // A list that hides everything says why, once per caller: the usual cause is a config, not an attack.
    if (kept.length === 0) this.authz.emptyLists.report(this.subject, kind, entries.length, this.firstHidden(kind, entries));
    return this.record(kind, kept, entries.length);
  }

  /** The first entry the caller may not see, and why: its server is not listable, outside the task, or its use denied. */
  firstHidden(kind: ListKind, entries: readonly Entry[]): HiddenItem | undefined {
    if (this.subject === null) return entries.length > 0 ? { item: 'everything', reason: 'the caller is not authenticated' } : undefined;
    const ctx = this.context(undefined);
    for (const e of entries) {
      const server = this.authz.serverTarget(e.upstream);
      const listed = this.policy.decide('list', this.subject, server, ctx);
      const hint = server.kind === 'server' ? tenantHint(this.subject, server.server) : undefined;
      if (listed.effect === 'deny') return { item: `server ${e.upstream}`, reason: listed.reason, ...(hint ? { hint } : {}) };
      const target = this.authz.target(kind, e);
      const name = String(e.item.name ?? e.original);
      if (!this.granted(target)) return { item: name, reason: `outside the grant of task ${this.task?.id}` };
      const used = this.policy.decide(USE_ACTION[kind], this.subject, target, ctx);
      if (used.effect === 'deny') return { item: name, reason: used.reason, ...(hint ? { hint } : {}) };
    }
    return undefined;
  }

  /** Why a server the caller may not reach (so never listed for it) is hidden. */
  private firstUnreached(subject: Subject, upstream: string): HiddenItem {
    const item = `server ${upstream}`;
    if (!this.mayReachInTask(upstream)) return { item, reason: `outside the grant of task ${this.task?.id}` };
    const server = this.authz.serverTarget(upstream);
    const hint = server.kind === 'server' ? tenantHint(subject, server.server) : undefined;
    return { item, reason: this.policy.decide('list', subject, server, this.context(undefined)).reason, ...(hint ? { hint } : {}) };
  }

  private record(kind: ListKind, shown: Entry[], total: number): Entry[] {
    this.decision = { effect: 'allow', policyIds: [], reason: `${shown.length} of ${total} ${kind} shown`, policyVersion: this.policy.version };
    return shown;
  }
}
