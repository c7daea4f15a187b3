/**
 * Runtime values of the compiled evaluator. Cedar's types map to JavaScript as:
 * Bool -> boolean, String -> string, Long -> number when it is a safe integer, else bigint (canonical: a
 * value is a bigint only outside the safe range, so `===` and Set membership stay exact), Entity ->
 * EntityUid, Set -> CedarSet, Record -> CedarRecord, extension values -> the classes in extension-values.ts.
 */
import { EvalError } from './eval-error.js';
import { CedarDecimal, CedarDatetime, CedarDuration, CedarIp } from './extension-values.js';

export { EvalError };

export class EntityUid {
  /** Unique per uid: entity type names cannot contain NUL. */
  readonly key: string;
  constructor(
    readonly type: string,
    readonly id: string,
  ) {
    this.key = uidKey(type, id);
  }
  toString(): string {
    return `${this.type}::"${this.id}"`;
  }
}

export const uidKey = (type: string, id: string): string => `${type}\u0000${id}`;

export type Value = boolean | number | bigint | string | EntityUid | CedarSet | CedarRecord | CedarDecimal | CedarIp | CedarDatetime | CedarDuration;

type Prim = boolean | number | bigint | string;
const isPrim = (v: Value): v is Prim => typeof v !== 'object';

/** A Cedar set: deduplicated; primitives and entity uids are indexed for O(1) `contains`. */
export class CedarSet {
  readonly items: Value[] = [];
  private readonly prims = new Set<Prim>();
  private readonly uids = new Set<string>();
  private others: Value[] | undefined;

  add(v: Value): void {
    if (this.has(v)) return;
    this.items.push(v);
    if (isPrim(v)) this.prims.add(v);
    else if (v instanceof EntityUid) this.uids.add(v.key);
    else (this.others ??= []).push(v);
  }

  has(v: Value): boolean {
    if (isPrim(v)) return this.prims.has(v);
    if (v instanceof EntityUid) return this.uids.has(v.key);
    if (this.others === undefined) return false;
    for (const o of this.others) if (valueEquals(o, v)) return true;
    return false;
  }

  get size(): number {
    return this.items.length;
  }

  static of(values: Iterable<Value>): CedarSet {
    const s = new CedarSet();
    for (const v of values) s.add(v);
    return s;
  }
}

export class CedarRecord {
  constructor(readonly map: Map<string, Value>) {}
}

export function valueEquals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (isPrim(a) || isPrim(b)) return false;
  if (a instanceof EntityUid) return b instanceof EntityUid && a.key === b.key;
  if (a instanceof CedarSet) {
    if (!(b instanceof CedarSet) || a.size !== b.size) return false;
    for (const x of a.items) if (!b.has(x)) return false;
    return true;
  }
  if (a instanceof CedarRecord) {
    if (!(b instanceof CedarRecord) || a.map.size !== b.map.size) return false;
    for (const [k, x] of a.map) {
      const y = b.map.get(k);
      if (y === undefined || !valueEquals(x, y)) return false;
    }
    return true;
  }
  if (a instanceof CedarIp) return b instanceof CedarIp && a.equals(b);
  if (a instanceof CedarDecimal) return b instanceof CedarDecimal && a.v === b.v;
  if (a instanceof CedarDatetime) return b instanceof CedarDatetime && a.ms === b.ms;
  if (a instanceof CedarDuration) return b instanceof CedarDuration && a.ms === b.ms;
  return false;
}

export function typeName(v: Value): string {
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return 'long';
    case 'string':
      return 'string';
  }
  if (v instanceof EntityUid) return `(entity of type \`${v.type}\`)`;
  if (v instanceof CedarSet) return 'set';
  if (v instanceof CedarRecord) return 'record';
  if (v instanceof CedarDecimal) return 'decimal';
  if (v instanceof CedarIp) return 'ipaddr';
  if (v instanceof CedarDatetime) return 'datetime';
  return 'duration';
}

export const typeError = (expected: string, v: Value): EvalError => new EvalError(`type error: expected ${expected}, got ${typeName(v)}`);

// ---- Long arithmetic (i64, overflow is an error) ----

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;

export type Long = number | bigint;
export const isLong = (v: Value): v is Long => typeof v === 'number' || typeof v === 'bigint';

/** Canonical form of an i64 held as a bigint; an error when it is outside i64. */
export function canonLong(b: bigint, what: string): Long {
  if (b < I64_MIN || b > I64_MAX) throw new EvalError(`integer overflow while attempting to ${what}`);
  const n = Number(b);
  return Number.isSafeInteger(n) ? n : b;
}

export function addLong(a: Long, b: Long): Long {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a + b;
    if (Number.isSafeInteger(r)) return r;
  }
  return canonLong(BigInt(a) + BigInt(b), 'add');
}

export function subLong(a: Long, b: Long): Long {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a - b;
    if (Number.isSafeInteger(r)) return r;
  }
  return canonLong(BigInt(a) - BigInt(b), 'subtract');
}

export function mulLong(a: Long, b: Long): Long {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a * b;
    // -0 (e.g. -1 * 0) must become 0: Cedar has one zero.
    if (Number.isSafeInteger(r)) return r === 0 ? 0 : r;
  }
  return canonLong(BigInt(a) * BigInt(b), 'multiply');
}

export function negLong(a: Long): Long {
  if (typeof a === 'number') return a === 0 ? 0 : -a;
  return canonLong(-a, 'negate');
}
