/**
 * The gateway's policy: one validated Cedar policy set over the gateway schema, split in two. Ordinary
 * policies decide allow or deny (deny unless a permit applies and no forbid does). Permits annotated
 * `@approval` form the approval set: they grant nothing, and when one applies to a call the main set
 * allows, the call needs a human approval (unless it already has one for exactly this call).
 *
 * @example
 * const policy = loadGatewayPolicy({ sources: [{ name: 'base.cedar', text }] });
 * const d = policy.decide('call_tool', subject, target, context);
 * // d: { effect: 'needs-approval', policyIds: ['prod-destructive'], reason: 'destructive tool in prod', ... }
 */
import { createHash } from 'node:crypto';
import { canonicalPathArguments, projectArguments } from './arguments.js';
import { PolicyEngine, policyVersion, type DecisionRequest, type PolicyInfo } from './engine.js';
import { PolicyInputError, PolicyLoadError } from './errors.js';
import { DEFAULT_ARGUMENTS, DEFAULT_PATH_ARGUMENTS, gatewaySchemaText, type ActionName } from './gateway-schema.js';
import type { EntityJson, EntityStore, EntityUidJson } from './input.js';
import { parseSources, validatePolicies, type ParsedPolicy, type PolicySource } from './load.js';
import type { Decision, PolicyError } from './policy-set.js';
import { actionUid, contextRecord, subjectEntities, targetEntities, type CallContext, type Subject, type Target } from './request.js';
import { buildSchemaModel, type RecordType } from './schema-model.js';
import { EntityUid } from './values.js';

export type Effect = 'allow' | 'deny' | 'needs-approval';

export interface GatewayDecision {
  effect: Effect;
  /** The determining policies: forbids (or none) on a deny, permits on an allow, approval policies on needs-approval. */
  policyIds: string[];
  /** For the caller and the audit log: the policies' `@reason`, else a sentence naming what was refused. */
  reason: string;
  /** The policy set's version (a hash of the schema and the policy texts). */
  version: string;
  /** Policies skipped because their evaluation errored (Cedar's rule); logged by the caller. */
  errors: readonly PolicyError[];
}

export interface GatewayPolicyOptions {
  sources: readonly PolicySource[];
  /** Declared call arguments, `{name: CedarType}`; defaults to DEFAULT_ARGUMENTS. */
  arguments?: Readonly<Record<string, string>> | undefined;
  /** Arguments holding file paths, normalised before the decision. */
  pathArguments?: readonly string[] | undefined;
}

/** A call's arguments as read for a decision (see readArguments). */
export interface ReadArguments {
  /** What the upstream gets: path arguments canonical. */
  forwarded: Record<string, unknown>;
  /** What the policy sees: the declared arguments of `forwarded`. */
  decided: Record<string, unknown>;
  /** Every path in the arguments (any path argument, at any depth), canonical: each is decided on its own. */
  paths: readonly string[];
}

interface Prepared {
  principal: EntityUidJson;
  resource: EntityUidJson;
  entities: EntityJson[];
  store: EntityStore;
}

const MAX_CALLERS_PER_TARGET = 256;

/** Everything subjectEntities reads (the delegation chain is context, not entities). */
const subjectKey = (s: Subject): string =>
  JSON.stringify([s.agent, s.user, s.tenant, s.owner ?? null, s.groups, s.userGroups ?? [], s.authMethod, s.issuer ?? null, s.scopes]);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function label(t: Target): string {
  if (t.kind === 'server') return `server ${t.server.name}`;
  if (t.kind === 'resource') return t.uri;
  return t.id;
}

/**
 * A schema problem as the caller and the audit log may see it: the attribute path and, for a plain type
 * mismatch, the types; never the value (a parse error of an extension value quotes its input).
 */
function valueFree(message: string): string {
  const m = /^((?:context|arguments)[\w.]*): (.*)$/s.exec(message);
  if (m === null) return 'a value does not have the type the schema declares';
  const detail = /^type mismatch: expected [\w<> ]+, got [\w<> ]+$/.test(m[2] ?? '') ? (m[2] as string) : 'not a valid value of its declared type';
  return `${m[1]}: ${detail}`;
}

export class GatewayPolicy {
  constructor(
    private readonly main: PolicyEngine,
    private readonly approvals: PolicyEngine,
    private readonly argumentsType: RecordType,
    private readonly pathArguments: ReadonlySet<string>,
    /** Short form of the set's digest, recorded with every decision. */
    readonly version: string,
    readonly schema: string,
  ) {}

  get policies(): PolicyInfo[] {
    return [...this.main.policies, ...this.approvals.policies];
  }

  get warnings() {
    return this.main.warnings;
  }

  /** The names of path arguments (config `policy.pathArguments`). */
  get pathArgumentNames(): ReadonlySet<string> {
    return this.pathArguments;
  }

  /**
   * A call's arguments: `forwarded` is what the upstream gets (paths canonical, relative ones resolved against
   * the first of `roots`), `decided` what the policy sees (declared arguments only), `paths` every path in
   * them. Throws PolicyInputError for arguments that are not an object or a path that has no one meaning.
   */
  readArguments(args: unknown, roots: readonly string[] = []): ReadArguments {
    if (args === undefined || args === null) return { forwarded: {}, decided: {}, paths: [] };
    if (!isRecord(args)) throw new PolicyInputError('arguments must be an object');
    const { args: forwarded, paths } = canonicalPathArguments(args, this.pathArguments, roots);
    return { forwarded, decided: projectArguments(forwarded, this.argumentsType), paths };
  }

  /**
   * Decides a use with its arguments (`context.arguments` is read.decided). Each path the arguments hold is decided on its own, as
   * `context.arguments.path` (the other arguments as they are), so a rule on `path` covers `paths`, `source`,
   * `destination` and nested paths alike: any deny denies the call, else any approval is needed; the call
   * is allowed only when every path is. A `path` of the wrong type is left for the schema check (deny).
   */
  decideArguments(action: ActionName, subject: Subject, target: Target, context: CallContext, read: ReadArguments): GatewayDecision {
    const { decided, paths } = read;
    const single = paths.length === 0 || (paths.length === 1 && decided.path === paths[0]);
    if (single || !this.pathIsString || (decided.path !== undefined && typeof decided.path !== 'string')) {
      return this.decide(action, subject, target, context.arguments === decided ? context : { ...context, arguments: decided });
    }
    let approval: GatewayDecision | undefined;
    let allowed: GatewayDecision | undefined;
    for (const path of paths) {
      const d = this.decide(action, subject, target, { ...context, arguments: { ...decided, path } });
      if (d.effect === 'deny') return d;
      if (d.effect === 'needs-approval') approval = approval === undefined ? d : { ...approval, policyIds: [...new Set([...approval.policyIds, ...d.policyIds])], errors: [...approval.errors, ...d.errors] };
      else allowed ??= d;
    }
    return (approval ?? allowed)!;
  }

  /** `path` is declared a String, so each path can be decided as it. */
  private get pathIsString(): boolean {
    return (this.pathType ??= this.argumentsType.attrs.get('path')?.type.k ?? 'none') === 'string';
  }

  private pathType: string | undefined;

  decide(action: ActionName, subject: Subject, target: Target, context: CallContext): GatewayDecision {
    try {
      const { first: d, then: approvalDecision } = this.decidePrepared(action, subject, target, context);
      if (d.decision === 'deny') return this.denial(action, subject, target, d.reasons, d.errors);
      if (context.approval !== 'approved' && this.approvals.policies.length > 0) {
        const a = approvalDecision();
        if (a.decision === 'allow') return this.result('needs-approval', a.reasons, `${this.reasonOf(a.reasons) ?? 'a human approval is required'}`, [...d.errors, ...a.errors]);
      }
      return this.result('allow', d.reasons, this.reasonOf(d.reasons) ?? `permitted by ${d.reasons.join(', ')}`, d.errors);
    } catch (err) {
      if (!(err instanceof PolicyInputError)) throw err;
      return this.result('deny', [], `the request does not fit the policy schema: ${valueFree(err.message)}`, []);
    }
  }

  /**
   * Which of `targets` (all of one action's resource type) the subject may use, for filtering a list:
   * allow and needs-approval are visible. Arguments are unknown here: `context.listing` is true and `context.arguments` empty.
   */
  visible(action: ActionName, subject: Subject, targets: readonly Target[], context: CallContext): boolean[] {
    if (targets.length === 0) return [];
    // One target (may this caller reach this server, asked on every call): its entities are prepared once.
    if (targets.length === 1) return [this.visibleOne(action, subject, targets[0]!, context)];
    const { principal, entities } = subjectEntities(subject);
    const seen = new Set<string>();
    const all: EntityJson[] = [...entities];
    const uids: EntityUidJson[] = [];
    for (const t of targets) {
      const { resource, entities: es } = targetEntities(t);
      uids.push(resource);
      for (const e of es) {
        const key = `${e.uid.type}\0${e.uid.id}`;
        if (!seen.has(key)) all.push(e);
        seen.add(key);
      }
    }
    try {
      const ctx = contextRecord(subject, { ...context, arguments: undefined });
      return this.main.decideEach({ principal, action: actionUid(action), context: ctx, entities: all }, uids).map((d) => d.decision === 'allow');
    } catch (err) {
      if (err instanceof PolicyInputError) return targets.map(() => false);
      throw err;
    }
  }

  private visibleOne(action: ActionName, subject: Subject, target: Target, context: CallContext): boolean {
    try {
      return this.decidePrepared(action, subject, target, { ...context, arguments: undefined }).first.decision === 'allow';
    } catch (err) {
      if (err instanceof PolicyInputError) return false;
      throw err;
    }
  }

  /**
   * The main set's decision on one (caller, target) pair, and the approval set's on demand. The pair's
   * entities are read once and reused; the context is read per call, once for both sets.
   */
  private decidePrepared(action: ActionName, subject: Subject, target: Target, context: CallContext): { first: Decision; then: () => Decision } {
    const p = this.prepared(subject, target);
    const req: DecisionRequest = { principal: p.principal, action: actionUid(action), resource: p.resource, context: contextRecord(subject, context), entities: p.entities };
    return this.main.decidePreparedThen(req, p.store, this.approvals);
  }

  /** Prepared entities by target object, then by caller: Targets are reused per catalog entry by the gateway. */
  private readonly entityCache = new WeakMap<Target, Map<string, Prepared>>();

  private prepared(subject: Subject, target: Target): Prepared {
    let bySubject = this.entityCache.get(target);
    if (bySubject === undefined) this.entityCache.set(target, (bySubject = new Map()));
    const key = subjectKey(subject);
    let p = bySubject.get(key);
    if (p === undefined) {
      const { principal, entities: who } = subjectEntities(subject);
      const { resource, entities: what } = targetEntities(target);
      const entities = [...who, ...what];
      p = { principal, resource, entities, store: this.main.prepareEntities(entities) };
      if (bySubject.size >= MAX_CALLERS_PER_TARGET) bySubject.clear();
      bySubject.set(key, p);
    }
    return p;
  }

  private denial(action: ActionName, subject: Subject, target: Target, forbids: readonly string[], errors: readonly PolicyError[]): GatewayDecision {
    if (forbids.length > 0) return this.result('deny', forbids, this.reasonOf(forbids) ?? `forbidden by policy ${forbids.join(', ')}`, errors);
    return this.result('deny', [], `no policy permits ${subject.agent} to ${action} ${label(target)}`, errors);
  }

  private reasonOf(ids: readonly string[]): string | undefined {
    for (const id of ids) {
      const r = (this.main.policy(id) ?? this.approvals.policy(id))?.annotations.reason;
      if (r !== undefined && r !== '') return r;
    }
    return undefined;
  }

  private result(effect: Effect, policyIds: readonly string[], reason: string, errors: readonly PolicyError[]): GatewayDecision {
    return { effect, policyIds: [...policyIds], reason, version: this.version, errors };
  }
}

const renumber = (list: readonly ParsedPolicy[]): ParsedPolicy[] => list.map((p, index) => ({ ...p, index }));

/** Parses and validates (strict) against the gateway schema; throws PolicyLoadError with every problem. */
export function loadGatewayPolicy(opts: GatewayPolicyOptions): GatewayPolicy {
  const schema = gatewaySchemaText(opts.arguments ?? DEFAULT_ARGUMENTS);
  const model = buildSchemaModel(schema);
  const parsed = parseSources(opts.sources);
  const warnings = validatePolicies(parsed, schema);
  // A policy that can never apply is a mistake in a security policy (a forbid that never fires, often
  // because it reads an argument the schema does not declare): refuse it rather than warn.
  const impossible = warnings.filter((w) => /policy is impossible/.test(w.message));
  if (impossible.length > 0) {
    throw new PolicyLoadError('policy_invalid', impossible.map((w) => ({ ...w, message: `${w.message} (does it read an argument not declared in policy.arguments?)` })));
  }
  const approval = parsed.filter((p) => 'approval' in p.annotations);
  const misplaced = approval.filter((p) => p.effect !== 'permit');
  if (misplaced.length > 0) {
    throw new PolicyLoadError('policy_invalid', misplaced.map((p) => ({ policyId: p.id, location: p.location, message: '@approval marks a permit that needs a human approval; it cannot be used on a forbid' })));
  }
  const digest = policyVersion(schema, opts.sources);
  const main = new PolicyEngine(renumber(parsed.filter((p) => !('approval' in p.annotations))), model, schema, warnings, digest);
  const approvals = new PolicyEngine(renumber(approval), model, schema, [], digest);
  const argsAttr = model.actions.get(new EntityUid('Action', 'call_tool').key)?.context.attrs.get('arguments')?.type;
  if (argsAttr?.k !== 'record') throw new Error('gateway schema: context.arguments must be a record');
  const version = createHash('sha256').update(digest).update(JSON.stringify(opts.pathArguments ?? DEFAULT_PATH_ARGUMENTS)).digest('hex').slice(0, 16);
  return new GatewayPolicy(main, approvals, argsAttr, new Set(opts.pathArguments ?? DEFAULT_PATH_ARGUMENTS), version, schema);
}
