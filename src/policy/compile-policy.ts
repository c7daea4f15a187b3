/**
 * Compiles one policy's JSON form into scope checks and a condition closure. The scope (principal,
 * action, resource constraints) always compiles; if a condition cannot be compiled, the policy keeps its
 * compiled scope (so the engine knows when it could apply) and is marked for cedar-wasm fallback.
 */
import { compileExpr, Unsupported, type Env, type Eval } from './compile-expr.js';
import { toUid } from './input.js';
import { typeError } from './values.js';

export type ScopeCheck = (env: Env) => boolean;

export type ActionScope = { op: 'all' } | { op: 'in'; keys: readonly string[] };

export interface CompiledPolicy {
  readonly id: string;
  /** Position in the policy set (load order); decisions list reasons in this order. */
  readonly index: number;
  readonly effect: 'permit' | 'forbid';
  /** null: any principal. */
  readonly principal: ScopeCheck | null;
  /** Entity type the principal must have, when the scope fixes it (for indexing). */
  readonly principalType: string | undefined;
  /** The entity in the principal constraint (`==`, `in`, `is ... in`): the principal is it or below it. */
  readonly principalKey: string | undefined;
  readonly action: ActionScope;
  /** `==` on the action: the single key; used with the action hierarchy for `in`. */
  readonly actionEq: boolean;
  readonly resource: ScopeCheck | null;
  readonly resourceType: string | undefined;
  readonly resourceKey: string | undefined;
  /** null: no conditions. Throws EvalError when evaluation errors. */
  readonly condition: ScopeCheck | null;
  /** Why this policy is evaluated by cedar-wasm instead (undefined: compiled). */
  readonly fallback: string | undefined;
}

type Json = Record<string, unknown>;

interface Scope {
  check: ScopeCheck | null;
  type: string | undefined;
  key?: string;
}

function entityKey(x: unknown, what: string): { key: string; type: string } {
  try {
    const uid = toUid(x, what);
    return { key: uid.key, type: uid.type };
  } catch {
    throw new Unsupported(`${what} is not an entity literal`);
  }
}

function scope(c: Json, pick: (env: Env) => Env['principal'], what: string): Scope {
  switch (c.op) {
    case 'All':
      return { check: null, type: undefined };
    case '==': {
      const { key, type } = entityKey(c.entity, what);
      return { check: (env) => pick(env).key === key, type, key };
    }
    case 'in': {
      const { key } = entityKey(c.entity, what);
      return { check: (env) => env.store.isIn(pick(env), key), type: undefined, key };
    }
    case 'is': {
      const type = c.entity_type;
      if (typeof type !== 'string') throw new Unsupported(`${what} is-constraint`);
      if (c.in === undefined) return { check: (env) => pick(env).type === type, type };
      const { key } = entityKey((c.in as Json).entity, what);
      return { check: (env) => pick(env).type === type && env.store.isIn(pick(env), key), type, key };
    }
  }
  throw new Unsupported(`${what} constraint ${String(c.op)}`);
}

function actionScope(c: Json): { scope: ActionScope; eq: boolean } {
  switch (c.op) {
    case 'All':
      return { scope: { op: 'all' }, eq: false };
    case '==':
      return { scope: { op: 'in', keys: [entityKey(c.entity, 'action').key] }, eq: true };
    case 'in': {
      const list = Array.isArray(c.entities) ? c.entities : [c.entity];
      return { scope: { op: 'in', keys: list.map((e) => entityKey(e, 'action').key) }, eq: false };
    }
  }
  throw new Unsupported(`action constraint ${String(c.op)}`);
}

function conditions(list: unknown): ScopeCheck | null {
  if (!Array.isArray(list)) throw new Unsupported('conditions');
  const clauses = list.map((c: Json) => {
    if (c.kind !== 'when' && c.kind !== 'unless') throw new Unsupported(`condition kind ${String(c.kind)}`);
    return { when: c.kind === 'when', fn: compileExpr(c.body) };
  });
  if (clauses.length === 0) return null;
  if (clauses.length === 1) {
    const { when, fn } = clauses[0] as { when: boolean; fn: Eval };
    return (env) => {
      const v = fn(env);
      if (typeof v !== 'boolean') throw typeError('bool', v);
      return v === when;
    };
  }
  return (env) => {
    for (const c of clauses) {
      const v = c.fn(env);
      if (typeof v !== 'boolean') throw typeError('bool', v);
      if (v !== c.when) return false;
    }
    return true;
  };
}

/** Throws Unsupported only when the scope itself cannot be compiled (the caller then falls back fully). */
export function compilePolicy(id: string, index: number, est: Json): CompiledPolicy {
  const effect = est.effect === 'forbid' ? 'forbid' : est.effect === 'permit' ? 'permit' : undefined;
  if (effect === undefined) throw new Unsupported(`effect ${String(est.effect)}`);
  const p = scope(est.principal as Json, (env) => env.principal, 'principal');
  const r = scope(est.resource as Json, (env) => env.resource, 'resource');
  const a = actionScope(est.action as Json);
  let condition: ScopeCheck | null = null;
  let fallback: string | undefined;
  try {
    condition = conditions(est.conditions ?? []);
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    fallback = e.message;
  }
  return {
    id,
    index,
    effect,
    principal: p.check,
    principalType: p.type,
    principalKey: p.key,
    action: a.scope,
    actionEq: a.eq,
    resource: r.check,
    resourceType: r.type,
    resourceKey: r.key,
    condition,
    fallback,
  };
}

/** A policy whose scope cannot be compiled: always a candidate, always evaluated by cedar-wasm. */
export function fallbackPolicy(id: string, index: number, effect: 'permit' | 'forbid', reason: string): CompiledPolicy {
  return {
    id,
    index,
    effect,
    principal: null,
    principalType: undefined,
    principalKey: undefined,
    action: { op: 'all' },
    actionEq: false,
    resource: null,
    resourceType: undefined,
    resourceKey: undefined,
    condition: null,
    fallback: reason,
  };
}
