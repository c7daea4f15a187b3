/**
 * Cedar's operators on runtime values, with Cedar's dynamic type errors: attribute access and `has` on
 * entities and records, `in` over the entity hierarchy, ordering comparisons, set operations, tags and
 * `like` patterns. The compiler (compile-expr.ts) wires these into closures.
 */
import { CedarDatetime, CedarDuration } from './extension-values.js';
import type { EntityStore } from './input.js';
import { CedarRecord, CedarSet, EntityUid, EvalError, isLong, typeError, type Value } from './values.js';

export function getAttr(v: Value, attr: string, store: EntityStore): Value {
  if (v instanceof EntityUid) {
    const e = store.get(v.key);
    if (e === undefined) throw new EvalError(`entity \`${v.toString()}\` does not exist`);
    const x = e.attrs.get(attr);
    if (x === undefined) throw new EvalError(`\`${v.toString()}\` does not have the attribute \`${attr}\``);
    return x;
  }
  if (v instanceof CedarRecord) {
    const x = v.map.get(attr);
    if (x === undefined) throw new EvalError(`record does not have the attribute \`${attr}\``);
    return x;
  }
  throw typeError('record or entity', v);
}

export function hasAttr(v: Value, attr: string, store: EntityStore): boolean {
  if (v instanceof EntityUid) {
    const e = store.get(v.key);
    return e !== undefined && e.attrs.has(attr);
  }
  if (v instanceof CedarRecord) return v.map.has(attr);
  throw typeError('record or entity', v);
}

export function asEntity(v: Value): EntityUid {
  if (!(v instanceof EntityUid)) throw typeError('entity', v);
  return v;
}

export function asSet(v: Value): CedarSet {
  if (!(v instanceof CedarSet)) throw typeError('set', v);
  return v;
}

export function asBool(v: Value): boolean {
  if (typeof v !== 'boolean') throw typeError('bool', v);
  return v;
}

export function asString(v: Value): string {
  if (typeof v !== 'string') throw typeError('string', v);
  return v;
}

/** `a in b`: b is an entity or a set of entities (every element is checked first, as Cedar does). */
export function inOp(a: Value, b: Value, store: EntityStore): boolean {
  const uid = asEntity(a);
  if (b instanceof EntityUid) return store.isIn(uid, b.key);
  if (b instanceof CedarSet) {
    for (const x of b.items) asEntity(x);
    for (const x of b.items) if (store.isIn(uid, (x as EntityUid).key)) return true;
    return false;
  }
  throw typeError('set or entity', b);
}

/** Ordering for `<`, `<=`, `>`, `>=`: long, datetime and duration (each with its own kind). */
export function compare(a: Value, b: Value): number {
  if (isLong(a)) {
    if (!isLong(b)) throw typeError('long', b);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (a instanceof CedarDatetime || a instanceof CedarDuration) {
    if (b.constructor !== a.constructor) throw typeError(a instanceof CedarDatetime ? 'datetime' : 'duration', b);
    const x = a.ms;
    const y = (b as CedarDatetime).ms;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  throw typeError('one of [long, datetime, duration]', a);
}

export function containsAll(a: Value, b: Value): boolean {
  const s = asSet(a);
  const t = asSet(b);
  for (const x of t.items) if (!s.has(x)) return false;
  return true;
}

export function containsAny(a: Value, b: Value): boolean {
  const s = asSet(a);
  const t = asSet(b);
  for (const x of t.items) if (s.has(x)) return true;
  return false;
}

export function getTag(a: Value, b: Value, store: EntityStore): Value {
  const uid = asEntity(a);
  const tag = asString(b);
  const e = store.get(uid.key);
  if (e === undefined) throw new EvalError(`entity \`${uid.toString()}\` does not exist`);
  const v = e.tags?.get(tag);
  if (v === undefined) throw new EvalError(`\`${uid.toString()}\` does not have the tag \`${tag}\``);
  return v;
}

export function hasTag(a: Value, b: Value, store: EntityStore): boolean {
  const uid = asEntity(a);
  const tag = asString(b);
  const e = store.get(uid.key);
  return e?.tags?.has(tag) ?? false;
}

/** A matcher for a `like` pattern: literal segments separated by `*` wildcards. */
export function likeMatcher(pattern: readonly ('Wildcard' | { Literal: string })[]): (s: string) => boolean {
  const segs: string[] = [''];
  for (const el of pattern) {
    if (el === 'Wildcard') segs.push('');
    else segs[segs.length - 1] += el.Literal;
  }
  const first = segs[0] as string;
  if (segs.length === 1) return (s) => s === first;
  const last = segs[segs.length - 1] as string;
  const middle = segs.slice(1, -1).filter((x) => x !== '');
  const min = first.length + last.length;
  return (s) => {
    if (s.length < min || !s.startsWith(first) || !s.endsWith(last)) return false;
    let pos = first.length;
    const end = s.length - last.length;
    for (const m of middle) {
      const i = s.indexOf(m, pos);
      if (i < 0 || i + m.length > end) return false;
      pos = i + m.length;
    }
    return true;
  };
}
