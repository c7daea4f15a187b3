/**
 * Request input without a schema: Cedar JSON values (entity refs as {__entity:{type,id}}, extension
 * values as {__extn:{fn,arg}}) to runtime values, and the JSON entity list to an EntityStore indexed by uid
 * with each entity's ancestors (transitive closure; a cycle refuses the request, as Cedar does).
 */
import { PolicyInputError } from './errors.js';
import { EvalError } from './eval-error.js';
import { parseDecimal, parseIp } from './extension-values.js';
import { parseDatetime, parseDuration } from './datetime.js';
import { CedarRecord, CedarSet, EntityUid, valueEquals, type Value } from './values.js';

export interface EntityUidJson {
  type: string;
  id: string;
}

/** Cedar's entity JSON: `attrs` and `parents` are required (cedar-wasm refuses an entity without them). */
export interface EntityJson {
  uid: EntityUidJson;
  attrs: Record<string, unknown>;
  parents: EntityUidJson[];
  tags?: Record<string, unknown>;
}

/** Checks the entity's fields (not its values) and returns its uid. */
export function entityShape(ej: EntityJson): EntityUid {
  const uid = toUid(ej?.uid, 'entity uid');
  if (!isPlainObject(ej.attrs)) throw new PolicyInputError(`${uid.toString()}: missing attrs`);
  if (!Array.isArray(ej.parents)) throw new PolicyInputError(`${uid.toString()}: missing parents`);
  if (ej.tags !== undefined && !isPlainObject(ej.tags)) throw new PolicyInputError(`${uid.toString()}: tags must be a record`);
  return uid;
}

export interface EntityData {
  readonly uid: EntityUid;
  readonly attrs: Map<string, Value>;
  readonly tags: Map<string, Value> | undefined;
  readonly parents: readonly string[];
  /** Keys of every ancestor (transitive), including parents that are not in the store. */
  ancestors: ReadonlySet<string>;
  /** Transitive-closure bookkeeping (0 until computed). */
  mark?: number;
}

const NAME_SEGMENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);

const validTypeNames = new Set<string>();

export function isValidTypeName(t: string): boolean {
  if (validTypeNames.has(t)) return true;
  if (!t.split('::').every((s) => NAME_SEGMENT.test(s) && !RESERVED.has(s))) return false;
  if (validTypeNames.size < 10_000) validTypeNames.add(t);
  return true;
}

export function toUid(u: unknown, what: string): EntityUid {
  const o = (isPlainObject(u) && isPlainObject(u.__entity) ? u.__entity : u) as Partial<EntityUidJson> | undefined;
  if (!isPlainObject(o) || typeof o.type !== 'string' || typeof o.id !== 'string') throw new PolicyInputError(`${what}: expected an entity uid {type, id}`);
  if (!isValidTypeName(o.type)) throw new PolicyInputError(`${what}: invalid entity type name \`${o.type}\``);
  return new EntityUid(o.type, cedarString(o.id));
}

type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };

/** Lone surrogates become U+FFFD, as they do on the way into cedar-wasm (a Rust string). */
export function cedarString(s: string): string {
  return (s as unknown as WellFormed).isWellFormed() ? s : (s as unknown as WellFormed).toWellFormed();
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const EXTENSION_CONSTRUCTORS: Record<string, (s: string) => Value> = {
  ip: parseIp,
  decimal: parseDecimal,
  datetime: parseDatetime,
  duration: parseDuration,
};

/** `{__entity:{type,id}}` exactly: an entity reference; anything else with that key is a record. */
export function entityEscape(o: Record<string, unknown>): Record<string, unknown> | undefined {
  const keys = Object.keys(o);
  if (keys.length !== 1 || keys[0] !== '__entity') return undefined;
  const e = o.__entity;
  if (!isPlainObject(e)) return undefined;
  const ek = Object.keys(e);
  return ek.length === 2 && typeof e.type === 'string' && typeof e.id === 'string' ? e : undefined;
}

export function extnEscape(o: Record<string, unknown>): { fn: string; arg: unknown } | undefined {
  const keys = Object.keys(o);
  if (keys.length !== 1 || keys[0] !== '__extn') return undefined;
  const x = o.__extn;
  return isPlainObject(x) && typeof x.fn === 'string' && x.arg !== undefined ? { fn: x.fn, arg: x.arg } : undefined;
}

export function extensionValue(fn: string, arg: unknown, path: string): Value {
  const ctor = EXTENSION_CONSTRUCTORS[fn];
  if (ctor === undefined) throw new PolicyInputError(`${path}: extension function \`${fn}\` does not exist`);
  if (typeof arg !== 'string') throw new PolicyInputError(`${path}: extension value argument must be a string`);
  try {
    return ctor(arg);
  } catch (e) {
    if (e instanceof EvalError) throw new PolicyInputError(`${path}: ${e.message}`);
    throw e;
  }
}

export function longValue(n: number, path: string): number {
  if (!Number.isSafeInteger(n)) throw new PolicyInputError(`${path}: numbers must be integers within ±(2^53-1)`);
  return n === 0 ? 0 : n;
}

/** A JSON value (context, attribute, tag) to a runtime value, without a schema. */
export function jsonToValue(v: unknown, path: string): Value {
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'string':
      return cedarString(v);
    case 'number':
      return longValue(v, path);
  }
  if (Array.isArray(v)) {
    const s = new CedarSet();
    for (let i = 0; i < v.length; i++) s.add(jsonToValue(v[i], `${path}[${i}]`));
    return s;
  }
  if (!isPlainObject(v)) throw new PolicyInputError(`${path}: ${v === null ? 'null is not a Cedar value' : `unsupported value of type ${typeof v}`}`);
  const ent = entityEscape(v);
  if (ent !== undefined) return toUid(ent, path);
  const ext = extnEscape(v);
  if (ext !== undefined) return extensionValue(ext.fn, ext.arg, path);
  return jsonToRecord(v, path);
}

export function jsonToRecord(o: Record<string, unknown>, path: string): CedarRecord {
  const m = new Map<string, Value>();
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (x !== undefined) m.set(k, jsonToValue(x, `${path}.${k}`));
  }
  return new CedarRecord(m);
}

const EMPTY = new Set<string>();

/** The entities of one request, plus entities every request shares (the schema's actions). */
export class EntityStore {
  constructor(
    private readonly own: Map<string, EntityData>,
    private readonly shared?: ReadonlyMap<string, EntityData>,
  ) {}

  get(key: string): EntityData | undefined {
    return this.own.get(key) ?? this.shared?.get(key);
  }

  /** uid `in` target: equal, or target among uid's ancestors. */
  isIn(uid: EntityUid, targetKey: string): boolean {
    if (uid.key === targetKey) return true;
    const e = this.get(uid.key);
    return e !== undefined && e.ancestors.has(targetKey);
  }

  get size(): number {
    return this.own.size;
  }
}

const VISITING = 1;
const DONE = 2;

/** Computes every entity's ancestors in place (marks on the entities, no side tables); throws on a cycle. */
export function closeHierarchy(entities: Map<string, EntityData>, shared?: ReadonlyMap<string, EntityData>): void {
  const visit = (e: EntityData): ReadonlySet<string> => {
    if (e.mark === DONE) return e.ancestors;
    if (e.mark === VISITING) throw new PolicyInputError(`entity hierarchy has a cycle containing ${e.uid.toString()}`);
    if (e.parents.length === 0) {
      e.mark = DONE;
      e.ancestors = EMPTY;
      return EMPTY;
    }
    e.mark = VISITING;
    const acc = new Set<string>();
    for (const p of e.parents) {
      acc.add(p);
      const pe = entities.get(p);
      const anc = pe !== undefined ? visit(pe) : shared?.get(p)?.ancestors;
      if (anc !== undefined) for (const a of anc) acc.add(a);
    }
    if (acc.has(e.uid.key)) throw new PolicyInputError(`entity hierarchy has a cycle containing ${e.uid.toString()}`);
    e.ancestors = acc;
    e.mark = DONE;
    return acc;
  };
  for (const e of entities.values()) visit(e);
}

function sameEntity(a: EntityData, b: EntityData): boolean {
  const tags = (t: Map<string, Value> | undefined) => new CedarRecord(t ?? new Map());
  return valueEquals(new CedarRecord(a.attrs), new CedarRecord(b.attrs)) && valueEquals(tags(a.tags), tags(b.tags)) && valueEquals(CedarSet.of(a.parents), CedarSet.of(b.parents));
}

/** A store from entities already read; refuses duplicates and cycles. */
export function storeOf(entities: readonly EntityData[], shared?: ReadonlyMap<string, EntityData>): EntityStore {
  const own = new Map<string, EntityData>();
  for (const e of entities) {
    const prev = own.get(e.uid.key);
    // Cedar accepts an exact repeat of an entity, and refuses a different one under the same uid.
    if (prev !== undefined && !sameEntity(prev, e)) throw new PolicyInputError(`duplicate entity entry ${e.uid.toString()}`);
    own.set(e.uid.key, e);
  }
  closeHierarchy(own, shared);
  return new EntityStore(own, shared);
}

/** Builds the store for one request from its JSON entity list (no schema). */
export function buildStore(list: readonly EntityJson[], shared?: ReadonlyMap<string, EntityData>): EntityStore {
  return storeOf(
    list.map((ej) => {
      const uid = entityShape(ej);
      const where = uid.toString();
      return {
        uid,
        attrs: jsonToRecord(ej.attrs, where).map,
        tags: ej.tags === undefined ? undefined : jsonToRecord(ej.tags, `${where} tag`).map,
        parents: ej.parents.map((p) => toUid(p, `${where} parent`).key),
        ancestors: EMPTY,
      };
    }),
    shared,
  );
}
