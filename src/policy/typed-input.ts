/**
 * Request input with a schema, as cedar-wasm reads it when given one: the request must fit the action's
 * appliesTo, the context and every entity must conform (attribute types, required attributes, parents,
 * tags, enumerated ids), and values are read by their declared type (so an `ipaddr` attribute may be
 * given as a plain string, an entity attribute as {type, id}). Actions come from the schema.
 */
import { PolicyInputError } from './errors.js';
import { cedarString, entityEscape, entityShape, extensionValue, extnEscape, isPlainObject, jsonToValue, longValue, storeOf, toUid, type EntityData, type EntityJson, type EntityStore } from './input.js';
import type { ActionDef, RecordType, SchemaModel, SType } from './schema-model.js';
import { CedarRecord, CedarSet, typeName, type EntityUid, type Value } from './values.js';

const NO_ANCESTORS: ReadonlySet<string> = new Set();
const EXT_FN: Record<string, string> = { ipaddr: 'ip', decimal: 'decimal', datetime: 'datetime', duration: 'duration' };

function mismatch(path: string, expected: string, got: string): PolicyInputError {
  return new PolicyInputError(`${path}: type mismatch: expected ${expected}, got ${got}`);
}

export function typedValue(v: unknown, t: SType, path: string): Value {
  switch (t.k) {
    case 'long':
      if (typeof v !== 'number') throw mismatch(path, 'long', typeof v);
      return longValue(v, path);
    case 'string':
      if (typeof v !== 'string') throw mismatch(path, 'string', typeof v);
      return cedarString(v);
    case 'bool':
      if (typeof v !== 'boolean') throw mismatch(path, 'bool', typeof v);
      return v;
    case 'set': {
      if (!Array.isArray(v)) throw mismatch(path, 'set', typeof v);
      const s = new CedarSet();
      for (let i = 0; i < v.length; i++) s.add(typedValue(v[i], t.el, `${path}[${i}]`));
      return s;
    }
    case 'record':
      if (!isPlainObject(v)) throw mismatch(path, 'record', v === null ? 'null' : typeof v);
      return typedRecord(v, t, path);
    case 'entity': {
      if (!isPlainObject(v)) throw mismatch(path, `entity of type ${t.name}`, typeof v);
      const uid = toUid(entityEscape(v) ?? v, path);
      if (uid.type !== t.name) throw mismatch(path, `entity of type ${t.name}`, `entity of type ${uid.type}`);
      return uid;
    }
    case 'ext': {
      const ext = isPlainObject(v) ? extnEscape(v) : undefined;
      const val = typeof v === 'string' ? extensionValue(EXT_FN[t.name] as string, v, path) : ext !== undefined ? extensionValue(ext.fn, ext.arg, path) : undefined;
      if (val === undefined) throw mismatch(path, t.name, typeof v);
      if (typeName(val) !== t.name) throw mismatch(path, t.name, typeName(val));
      return val;
    }
  }
}

export function typedRecord(o: Record<string, unknown>, t: RecordType, path: string): CedarRecord {
  const m = new Map<string, Value>();
  for (const [name, at] of t.attrs) {
    const x = o[name];
    if (x === undefined) {
      if (at.required) throw new PolicyInputError(`${path}: missing required attribute \`${name}\``);
      continue;
    }
    m.set(name, typedValue(x, at.type, `${path}.${name}`));
  }
  // Every key of `o` that is set is declared (and read above) unless there are more set keys than that.
  let present = 0;
  for (const k in o) if (o[k] !== undefined) present++;
  if (present === m.size) return new CedarRecord(m);
  for (const k of Object.keys(o)) {
    if (t.attrs.has(k) || o[k] === undefined) continue;
    if (!t.open) throw new PolicyInputError(`${path}: attribute \`${k}\` is not declared in the schema`);
    m.set(k, jsonToValue(o[k], `${path}.${k}`));
  }
  return new CedarRecord(m);
}

/** Checks a request's principal, action and resource against the schema; returns the action. */
export function checkRequest(model: SchemaModel, principal: EntityUid, action: EntityUid, resource: EntityUid): ActionDef {
  const a = model.actions.get(action.key);
  if (a === undefined) throw new PolicyInputError(`action ${action.toString()} is not declared in the schema`);
  if (!a.principalTypes.has(principal.type)) throw new PolicyInputError(`principal type \`${principal.type}\` is not valid for ${action.toString()}`);
  if (!a.resourceTypes.has(resource.type)) throw new PolicyInputError(`resource type \`${resource.type}\` is not valid for ${action.toString()}`);
  checkEnumId(model, principal);
  checkEnumId(model, resource);
  return a;
}

function checkEnumId(model: SchemaModel, uid: EntityUid): void {
  const ids = model.entityTypes.get(uid.type)?.enumIds;
  if (ids !== undefined && !ids.has(uid.id)) throw new PolicyInputError(`${uid.toString()} is not one of the enumerated ids of \`${uid.type}\``);
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  const s = new Set(a);
  return s.size === new Set(b).size && b.every((x) => s.has(x));
}

/** The request's entities, checked and read against the schema; the schema's actions are shared. */
export function buildTypedStore(model: SchemaModel, list: readonly EntityJson[]): EntityStore {
  const entities: EntityData[] = [];
  for (const ej of list) {
    const uid = entityShape(ej);
    const where = uid.toString();
    const parents = ej.parents.map((p) => toUid(p, `${where} parent`));
    if (model.actionTypes.has(uid.type)) {
      const a = model.actionEntities.get(uid.key);
      if (a === undefined) throw new PolicyInputError(`${where} is an action not declared in the schema`);
      if (Object.keys(ej.attrs).length > 0 || !sameKeys(a.parents, parents.map((p) => p.key))) throw new PolicyInputError(`${where} does not match its declaration in the schema`);
      continue;
    }
    const def = model.entityTypes.get(uid.type);
    if (def === undefined) throw new PolicyInputError(`${where} has type \`${uid.type}\` which is not declared in the schema`);
    checkEnumId(model, uid);
    for (const p of parents) if (!def.memberOf.has(p.type)) throw new PolicyInputError(`${where} may not have a parent of type \`${p.type}\``);
    let tags: Map<string, Value> | undefined;
    if (ej.tags !== undefined && Object.keys(ej.tags).length > 0) {
      const tagType = def.tags;
      if (tagType === undefined) throw new PolicyInputError(`${where} has tags but its type declares none`);
      tags = new Map(Object.entries(ej.tags).map(([k, v]) => [k, typedValue(v, tagType, `${where} tag ${k}`)]));
    }
    entities.push({ uid, attrs: typedRecord(ej.attrs, def.shape, where).map, tags, parents: parents.map((p) => p.key), ancestors: NO_ANCESTORS });
  }
  return storeOf(entities, model.actionEntities);
}
