/**
 * The parts of a Cedar schema the engine needs at request time: attribute types of entity types and
 * contexts (to check and convert requests as cedar-wasm does with a schema), allowed parents and tags,
 * enumerated entity ids, and the actions with their hierarchy and appliesTo.
 */
import { schemaToJson, schemaToJsonWithResolvedTypes, schemaToText, type Schema } from '@cedar-policy/cedar-wasm/nodejs';
import { PolicyLoadError } from './errors.js';
import { closeHierarchy, type EntityData } from './input.js';
import { EntityUid } from './values.js';

export type ExtName = 'ipaddr' | 'decimal' | 'datetime' | 'duration';

export interface AttrType {
  type: SType;
  required: boolean;
}

export type SType =
  | { k: 'long' | 'string' | 'bool' }
  | { k: 'set'; el: SType }
  | { k: 'record'; attrs: Map<string, AttrType>; open: boolean }
  | { k: 'entity'; name: string }
  | { k: 'ext'; name: ExtName };

export type RecordType = Extract<SType, { k: 'record' }>;

export interface EntityTypeDef {
  shape: RecordType;
  memberOf: ReadonlySet<string>;
  tags: SType | undefined;
  enumIds: ReadonlySet<string> | undefined;
}

export interface ActionDef {
  uid: EntityUid;
  principalTypes: ReadonlySet<string>;
  resourceTypes: ReadonlySet<string>;
  context: RecordType;
}

export interface SchemaModel {
  entityTypes: ReadonlyMap<string, EntityTypeDef>;
  /** By uid key. */
  actions: ReadonlyMap<string, ActionDef>;
  /** The actions as entities (with their transitive ancestors), shared by every request. */
  actionEntities: ReadonlyMap<string, EntityData>;
  /** Entity type names of actions (`Action`, `NS::Action`). */
  actionTypes: ReadonlySet<string>;
}

type Json = Record<string, unknown>;

const EMPTY_RECORD: RecordType = { k: 'record', attrs: new Map(), open: false };
const EXTENSIONS = new Set(['ipaddr', 'decimal', 'datetime', 'duration']);
const qualify = (ns: string, name: string): string => (ns === '' ? name : `${ns}::${name}`);

export function resolvedSchemaJson(schema: Schema): Record<string, Json> {
  const text = typeof schema === 'string' ? schema : schemaToText(schema);
  if (typeof text !== 'string' && text.type === 'failure') throw schemaError(text.errors);
  const r = schemaToJsonWithResolvedTypes(typeof text === 'string' ? text : text.text);
  if (r.type === 'failure') throw schemaError(r.errors);
  return r.json as unknown as Record<string, Json>;
}

function schemaError(errors: { message: string }[]): PolicyLoadError {
  return new PolicyLoadError(
    'schema_invalid',
    errors.map((e) => ({ message: e.message })),
  );
}

export function buildSchemaModel(schema: Schema): SchemaModel {
  const json = resolvedSchemaJson(schema);
  const common = new Map<string, Json>();
  const entityNames = new Set<string>();
  for (const [ns, def] of Object.entries(json)) {
    for (const [n, t] of Object.entries((def.commonTypes ?? {}) as Record<string, Json>)) common.set(qualify(ns, n), t);
    for (const n of Object.keys((def.entityTypes ?? {}) as Json)) entityNames.add(qualify(ns, n));
  }
  const resolving = new Set<string>();
  const resolveName = (name: string, ns: string): SType => {
    const bare = name.startsWith('__cedar::') ? name.slice('__cedar::'.length) : undefined;
    if (bare === undefined) {
      for (const q of [qualify(ns, name), name]) {
        const c = common.get(q);
        if (c !== undefined) {
          if (resolving.has(q)) throw schemaError([{ message: `common type ${q} refers to itself` }]);
          resolving.add(q);
          const t = resolve(c, ns);
          resolving.delete(q);
          return t;
        }
        if (entityNames.has(q)) return { k: 'entity', name: q };
      }
    }
    const b = bare ?? name;
    if (b === 'Long') return { k: 'long' };
    if (b === 'String') return { k: 'string' };
    if (b === 'Bool' || b === 'Boolean') return { k: 'bool' };
    if (EXTENSIONS.has(b)) return { k: 'ext', name: b as ExtName };
    throw schemaError([{ message: `unknown type ${name}` }]);
  };
  const resolve = (t: Json, ns: string): SType => {
    switch (t.type) {
      case 'Set':
        return { k: 'set', el: resolve(t.element as Json, ns) };
      case 'Record': {
        const attrs = new Map<string, AttrType>();
        for (const [a, at] of Object.entries((t.attributes ?? {}) as Record<string, Json>)) attrs.set(a, { type: resolve(at, ns), required: at.required !== false });
        return { k: 'record', attrs, open: t.additionalAttributes === true };
      }
      case 'Entity':
        return { k: 'entity', name: resolveEntity(String(t.name), ns) };
      case 'Extension':
        return resolveName(`__cedar::${String(t.name)}`, ns);
      case 'EntityOrCommon':
        return resolveName(String(t.name), ns);
    }
    return resolveName(String(t.type), ns);
  };
  const resolveEntity = (name: string, ns: string): string => (entityNames.has(qualify(ns, name)) ? qualify(ns, name) : name);
  const asRecord = (t: SType | undefined): RecordType => {
    if (t === undefined) return EMPTY_RECORD;
    if (t.k !== 'record') throw schemaError([{ message: 'an entity shape or a context must be a record' }]);
    return t;
  };

  const entityTypes = new Map<string, EntityTypeDef>();
  const actions = new Map<string, ActionDef>();
  const actionEntities = new Map<string, EntityData>();
  const actionTypes = new Set<string>();
  for (const [ns, def] of Object.entries(json)) {
    for (const [n, e] of Object.entries((def.entityTypes ?? {}) as Record<string, Json>)) {
      entityTypes.set(qualify(ns, n), {
        shape: asRecord(e.shape === undefined ? undefined : resolve(e.shape as Json, ns)),
        memberOf: new Set(((e.memberOfTypes ?? []) as string[]).map((m) => resolveEntity(m, ns))),
        tags: e.tags === undefined ? undefined : resolve(e.tags as Json, ns),
        enumIds: Array.isArray(e.enum) ? new Set(e.enum as string[]) : undefined,
      });
    }
    const actionType = qualify(ns, 'Action');
    for (const [id, a] of Object.entries((def.actions ?? {}) as Record<string, Json>)) {
      actionTypes.add(actionType);
      const uid = new EntityUid(actionType, id);
      const applies = (a.appliesTo ?? {}) as Json;
      actions.set(uid.key, {
        uid,
        principalTypes: new Set(((applies.principalTypes ?? []) as string[]).map((m) => resolveEntity(m, ns))),
        resourceTypes: new Set(((applies.resourceTypes ?? []) as string[]).map((m) => resolveEntity(m, ns))),
        context: asRecord(applies.context === undefined ? undefined : resolve(applies.context as Json, ns)),
      });
      const parents = ((a.memberOf ?? []) as { id: string; type?: string }[]).map((m) => new EntityUid(m.type === undefined ? actionType : m.type.includes('::') || ns === '' ? m.type : qualify(ns, m.type), m.id).key);
      actionEntities.set(uid.key, { uid, attrs: new Map(), tags: undefined, parents, ancestors: new Set() });
    }
  }
  closeHierarchy(actionEntities);
  return { entityTypes, actions, actionEntities, actionTypes };
}

/** A schema's text in Cedar's JSON schema form (`warden policy schema --json`). */
export function schemaTextToJson(text: string): unknown {
  const r = schemaToJson(text);
  if (r.type !== 'success') throw new Error(`the schema does not convert to JSON: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.json;
}
