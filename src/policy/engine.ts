/**
 * The policy engine: Cedar policies validated against a schema at load, compiled to JavaScript for the
 * decision path, with cedar-wasm as the reference and as the fallback for what does not compile.
 *
 * @example
 * const engine = loadPolicyEngine({ schema, sources: [{ name: 'base.cedar', text }] });
 * const d = engine.decide({
 *   principal: { type: 'Agent', id: 'a1' }, action: { type: 'Action', id: 'call_tool' },
 *   resource: { type: 'Tool', id: 'files__read' }, context: { depth: 1 }, entities: slice,
 * });
 * // d: { decision: 'allow' | 'deny', reasons: ['read-own-tenant'], errors: [] }
 */
import { createHash } from 'node:crypto';
import type { Schema } from '@cedar-policy/cedar-wasm/nodejs';
import { Unsupported, type Env } from './compile-expr.js';
import { compilePolicy, fallbackPolicy, type CompiledPolicy } from './compile-policy.js';
import { PolicyInputError, type PolicyProblem } from './errors.js';
import { WasmFallback, type RawRequest } from './fallback.js';
import { buildStore, isPlainObject, jsonToRecord, toUid, type EntityJson, type EntityStore, type EntityUidJson } from './input.js';
import { parseSources, validatePolicies, type ParsedPolicy, type PolicySource } from './load.js';
import { CompiledSet, type Decision } from './policy-set.js';
import { buildSchemaModel, type SchemaModel } from './schema-model.js';
import { buildTypedStore, checkRequest, typedRecord } from './typed-input.js';
import type { CedarRecord, EntityUid } from './values.js';

export interface PolicyEngineOptions {
  /** Cedar schema, as Cedar schema text or JSON. */
  schema: Schema;
  sources: readonly PolicySource[];
}

export interface DecisionRequest {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  /** A JSON record; entity refs as {__entity:{type,id}}, extension values as {__extn:{fn,arg}}. */
  context?: Record<string, unknown>;
  /** The entities this decision may look at (a small slice), each {uid, attrs, parents?, tags?}. */
  entities?: readonly EntityJson[];
}

export interface PolicyInfo {
  id: string;
  effect: 'permit' | 'forbid';
  annotations: Readonly<Record<string, string>>;
  /** `file:line:col`. */
  location: string;
  /** Why the policy is evaluated by cedar-wasm instead of compiled code (undefined: compiled). */
  fallback: string | undefined;
}

export class PolicyEngine {
  /** Digest of the schema and the policy sources: the policy version recorded with decisions. */
  readonly version: string;
  readonly policies: readonly PolicyInfo[];
  private readonly byId: ReadonlyMap<string, PolicyInfo>;
  private readonly set: CompiledSet;

  /** Use loadPolicyEngine; `model` undefined reads requests without a schema (tests, no validation). */
  constructor(
    parsed: readonly ParsedPolicy[],
    private readonly model: SchemaModel | undefined,
    schema: Schema | undefined,
    readonly warnings: readonly PolicyProblem[],
    version: string,
  ) {
    this.version = version;
    const compiled = parsed.map(compileOne);
    const fallbackTexts = new Map(parsed.filter((_, i) => compiled[i]?.fallback !== undefined).map((p) => [p.id, p.text]));
    const fallback = fallbackTexts.size > 0 ? new WasmFallback(fallbackTexts, schema) : undefined;
    this.set = new CompiledSet(compiled, model?.actionEntities, fallback);
    this.policies = parsed.map((p, i) => ({ id: p.id, effect: p.effect, annotations: p.annotations, location: p.location, fallback: compiled[i]?.fallback }));
    this.byId = new Map(this.policies.map((p) => [p.id, p]));
  }

  policy(id: string): PolicyInfo | undefined {
    return this.byId.get(id);
  }

  /** Policies evaluated by cedar-wasm, with the reason. */
  get fallbacks(): readonly PolicyInfo[] {
    return this.policies.filter((p) => p.fallback !== undefined);
  }

  /** One decision. Throws PolicyInputError for a request the schema does not allow or malformed input. */
  decide(req: DecisionRequest): Decision {
    const principal = toUid(req.principal, 'principal');
    const action = toUid(req.action, 'action');
    const resource = toUid(req.resource, 'resource');
    const { context, store } = this.read(req, principal, action, resource);
    return this.set.evaluate({ principal, action, resource, context, store }, req as RawRequest);
  }

  /**
   * Decides with this set, and offers the same request, converted once, to `next` (a set loaded against the
   * same schema, such as the approval set): the second decision costs only its evaluation.
   */
  decideThen(req: DecisionRequest, next: PolicyEngine): { first: Decision; then: () => Decision } {
    const principal = toUid(req.principal, 'principal');
    const action = toUid(req.action, 'action');
    const resource = toUid(req.resource, 'resource');
    const { context, store } = this.read(req, principal, action, resource);
    const env: Env = { principal, action, resource, context, store };
    return { first: this.set.evaluate(env, req as RawRequest), then: () => next.set.evaluate(env, req as RawRequest) };
  }

  /**
   * One decision per resource for the same principal, action, context and entities (filtering a list):
   * the entities and context are read once.
   */
  decideEach(req: Omit<DecisionRequest, 'resource'>, resources: readonly EntityUidJson[]): Decision[] {
    if (resources.length === 0) return [];
    const principal = toUid(req.principal, 'principal');
    const action = toUid(req.action, 'action');
    const uids = resources.map((r) => toUid(r, 'resource'));
    const { context, store } = this.read(req, principal, action, uids[0] as EntityUid);
    const env: Env = { principal, action, resource: uids[0] as EntityUid, context, store };
    return uids.map((resource, i) => {
      if (this.model !== undefined) checkRequest(this.model, principal, action, resource);
      env.resource = resource;
      return this.set.evaluate(env, { ...req, resource: resources[i] as EntityUidJson });
    });
  }

  private read(req: Omit<DecisionRequest, 'resource'>, principal: EntityUid, action: EntityUid, resource: EntityUid): Pick<Env, 'context' | 'store'> {
    const context = this.readContext(req, principal, action, resource);
    return { context, store: this.prepareEntities(req.entities ?? []) };
  }

  private readContext(req: Omit<DecisionRequest, 'resource'>, principal: EntityUid, action: EntityUid, resource: EntityUid): CedarRecord {
    const ctx = req.context ?? {};
    if (!isPlainObject(ctx)) throw new PolicyInputError('context must be a record');
    if (this.model === undefined) return jsonToRecord(ctx, 'context');
    const def = checkRequest(this.model, principal, action, resource);
    return typedRecord(ctx, def.context, 'context');
  }

  /**
   * Entities read (and checked against the schema) once, for requests that share them: a store is not
   * changed by decisions, so one can serve many requests of the same principal and resource.
   */
  prepareEntities(entities: readonly EntityJson[]): EntityStore {
    if (!Array.isArray(entities)) throw new PolicyInputError('entities must be an array');
    return this.model === undefined ? buildStore(entities) : buildTypedStore(this.model, entities);
  }

  /** As decideThen, with the request's entities prepared already (by an engine of the same schema). */
  decidePreparedThen(req: DecisionRequest, store: EntityStore, next: PolicyEngine): { first: Decision; then: () => Decision } {
    const principal = toUid(req.principal, 'principal');
    const action = toUid(req.action, 'action');
    const resource = toUid(req.resource, 'resource');
    const env: Env = { principal, action, resource, context: this.readContext(req, principal, action, resource), store };
    return { first: this.set.evaluate(env, req as RawRequest), then: () => next.set.evaluate(env, req as RawRequest) };
  }
}

function compileOne(p: ParsedPolicy): CompiledPolicy {
  try {
    return compilePolicy(p.id, p.index, p.est as unknown as Record<string, unknown>);
  } catch (e) {
    if (e instanceof Unsupported) return fallbackPolicy(p.id, p.index, p.effect, e.message);
    throw e;
  }
}

export function policyVersion(schema: Schema | undefined, sources: readonly PolicySource[]): string {
  return createHash('sha256')
    .update(JSON.stringify([schema ?? null, sources.map((s) => [s.name, s.text])]))
    .digest('hex');
}

/** Parses, validates (strict) and compiles. Throws PolicyLoadError with every problem found. */
export function loadPolicyEngine(opts: PolicyEngineOptions): PolicyEngine {
  const model = buildSchemaModel(opts.schema);
  const parsed = parseSources(opts.sources);
  const warnings = validatePolicies(parsed, opts.schema);
  return new PolicyEngine(parsed, model, opts.schema, warnings, policyVersion(opts.schema, opts.sources));
}

/** Without a schema and without validation: requests are read untyped, action entities come from the request. For tests. */
export function loadUnvalidated(sources: readonly PolicySource[]): PolicyEngine {
  return new PolicyEngine(parseSources(sources), undefined, undefined, [], policyVersion(undefined, sources));
}
