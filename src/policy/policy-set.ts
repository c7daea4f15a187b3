/**
 * A compiled policy set and Cedar's authorization rule over it: a policy whose evaluation errors is
 * skipped (and reported); any satisfied forbid denies; otherwise any satisfied permit allows; otherwise
 * deny. Policies are indexed by action and by principal/resource type, so a decision evaluates only the
 * policies whose scope can match. Policies marked for fallback are handed to cedar-wasm in one call when
 * (and only when) one of their scopes matches.
 */
import type { CompiledPolicy } from './compile-policy.js';
import type { Env } from './compile-expr.js';
import type { EntityData } from './input.js';
import type { RawRequest, WasmFallback } from './fallback.js';
import { EvalError } from './values.js';

export interface PolicyError {
  policyId: string;
  message: string;
}

export interface Decision {
  decision: 'allow' | 'deny';
  /** The determining policies: satisfied forbids on a deny, satisfied permits on an allow. */
  reasons: readonly string[];
  /** Policies skipped because their evaluation errored. */
  errors: readonly PolicyError[];
}

const NONE: readonly never[] = Object.freeze([]);
const NO_KEYS: ReadonlySet<string> = new Set();
const CACHE_LIMIT = 1024;

/**
 * The candidates for one (action, principal type, resource type): policies whose principal (else
 * resource) constraint names an entity are filed under that entity, and looked up through the request's
 * principal (resource) and its ancestors; the rest are always evaluated.
 */
interface Bucket {
  general: readonly CompiledPolicy[];
  byPrincipal: ReadonlyMap<string, readonly CompiledPolicy[]>;
  byResource: ReadonlyMap<string, readonly CompiledPolicy[]>;
}

/** One evaluation's results, as policies (ids are taken, in load order, at the end). */
class Tally {
  forbids: CompiledPolicy[] | undefined;
  permits: CompiledPolicy[] | undefined;
  errors: { policy: CompiledPolicy; message: string }[] | undefined;
  lists = 0;
  needFallback = false;
}

const byIndex = (a: CompiledPolicy, b: CompiledPolicy): number => a.index - b.index;

export class CompiledSet {
  private readonly buckets = new Map<string, Map<string, Bucket>>();
  private readonly byId: ReadonlyMap<string, CompiledPolicy>;

  /**
   * actionEntities: the schema's actions (static hierarchy: candidates are indexed per action). Without
   * them, action constraints are checked per request against the request's entities.
   */
  constructor(
    readonly policies: readonly CompiledPolicy[],
    private readonly actionEntities: ReadonlyMap<string, EntityData> | undefined,
    private readonly fallback: WasmFallback | undefined,
  ) {
    this.byId = new Map(policies.map((p) => [p.id, p]));
  }

  evaluate(env: Env, raw: RawRequest): Decision {
    const b = this.bucket(env);
    const t = new Tally();
    this.run(b.general, env, t);
    if (b.byPrincipal.size > 0) this.runKeyed(b.byPrincipal, env.principal.key, env, t);
    if (b.byResource.size > 0) this.runKeyed(b.byResource, env.resource.key, env, t);
    if (t.needFallback && this.fallback !== undefined) this.addFallback(t, raw);
    const sorted = t.lists > 1;
    const ids = (list: CompiledPolicy[] | undefined): readonly string[] => (list === undefined ? NONE : (sorted ? list.sort(byIndex) : list).map((p) => p.id));
    const errors = t.errors === undefined ? NONE : (sorted ? t.errors.sort((x, y) => x.policy.index - y.policy.index) : t.errors).map((e) => ({ policyId: e.policy.id, message: e.message }));
    if (t.forbids !== undefined) return { decision: 'deny', reasons: ids(t.forbids), errors };
    if (t.permits !== undefined) return { decision: 'allow', reasons: ids(t.permits), errors };
    return { decision: 'deny', reasons: NONE, errors };
  }

  private runKeyed(map: ReadonlyMap<string, readonly CompiledPolicy[]>, key: string, env: Env, t: Tally): void {
    const own = map.get(key);
    if (own !== undefined) this.run(own, env, t);
    for (const k of env.store.get(key)?.ancestors ?? NO_KEYS) {
      const list = map.get(k);
      if (list !== undefined) this.run(list, env, t);
    }
  }

  private run(list: readonly CompiledPolicy[], env: Env, t: Tally): void {
    if (list.length === 0) return;
    t.lists++;
    const dynamicAction = this.actionEntities === undefined;
    for (let i = 0; i < list.length; i++) {
      const p = list[i] as CompiledPolicy;
      if (dynamicAction && !actionMatches(p, env)) continue;
      if (p.principal !== null && !p.principal(env)) continue;
      if (p.resource !== null && !p.resource(env)) continue;
      if (p.fallback !== undefined) {
        t.needFallback = true;
        continue;
      }
      if (p.condition !== null) {
        try {
          if (!p.condition(env)) continue;
        } catch (e) {
          if (!(e instanceof EvalError)) throw e;
          (t.errors ??= []).push({ policy: p, message: e.message });
          continue;
        }
      }
      if (p.effect === 'forbid') (t.forbids ??= []).push(p);
      else (t.permits ??= []).push(p);
    }
  }

  /** Adds cedar-wasm's verdict on the fallback policies: its reasons are forbids on a deny, permits on an allow. */
  private addFallback(t: Tally, raw: RawRequest): void {
    const fb = (this.fallback as WasmFallback).evaluate(raw);
    const found = (ids: readonly string[]) => ids.map((id) => this.byId.get(id)).filter((p): p is CompiledPolicy => p !== undefined);
    if (fb.reasons.length > 0) {
      const list = found(fb.reasons);
      if (fb.decision === 'allow') t.permits = [...(t.permits ?? []), ...list];
      else t.forbids = [...(t.forbids ?? []), ...list];
    }
    for (const e of fb.errors) {
      const p = this.byId.get(e.policyId);
      if (p !== undefined) (t.errors ??= []).push({ policy: p, message: e.message });
    }
    t.lists += 2;
  }

  /** The candidates whose action and type constraints can match this request, filed by principal/resource. */
  private bucket(env: Env): Bucket {
    const actionKey = this.actionEntities === undefined ? '' : env.action.key;
    let byType = this.buckets.get(actionKey);
    if (byType === undefined) {
      if (this.buckets.size >= CACHE_LIMIT) this.buckets.clear();
      byType = new Map();
      this.buckets.set(actionKey, byType);
    }
    const typeKey = `${env.principal.type}\u0000${env.resource.type}`;
    let b = byType.get(typeKey);
    if (b === undefined) {
      if (byType.size >= CACHE_LIMIT) byType.clear();
      b = this.file(this.select(env.principal.type, env.resource.type, actionKey));
      byType.set(typeKey, b);
    }
    return b;
  }

  private file(list: readonly CompiledPolicy[]): Bucket {
    const general: CompiledPolicy[] = [];
    const byPrincipal = new Map<string, CompiledPolicy[]>();
    const byResource = new Map<string, CompiledPolicy[]>();
    const put = (m: Map<string, CompiledPolicy[]>, k: string, p: CompiledPolicy) => {
      const l = m.get(k);
      if (l === undefined) m.set(k, [p]);
      else l.push(p);
    };
    for (const p of list) {
      if (p.principalKey !== undefined) put(byPrincipal, p.principalKey, p);
      else if (p.resourceKey !== undefined) put(byResource, p.resourceKey, p);
      else general.push(p);
    }
    return { general, byPrincipal, byResource };
  }

  private select(principalType: string, resourceType: string, actionKey: string): readonly CompiledPolicy[] {
    const ancestors = this.actionEntities?.get(actionKey)?.ancestors;
    return this.policies.filter((p) => {
      if (p.principalType !== undefined && p.principalType !== principalType) return false;
      if (p.resourceType !== undefined && p.resourceType !== resourceType) return false;
      if (this.actionEntities === undefined || p.action.op === 'all') return true;
      if (p.actionEq) return p.action.keys[0] === actionKey;
      return p.action.keys.some((k) => k === actionKey || (ancestors?.has(k) ?? false));
    });
  }
}

function actionMatches(p: CompiledPolicy, env: Env): boolean {
  if (p.action.op === 'all') return true;
  if (p.actionEq) return p.action.keys[0] === env.action.key;
  for (const k of p.action.keys) if (env.store.isIn(env.action, k)) return true;
  return false;
}
