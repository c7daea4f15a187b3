/**
 * A call's arguments on their way into a decision. Path arguments (by name, at any depth: a string, or a
 * list of strings) are put in canonical form (see canonical.ts): a relative path is resolved against the
 * upstream's roots, `..` is collapsed, Unicode is NFC; so a policy that allows `/data/agent-a/*` sees
 * `/data/agent-a/../agent-b/x` as `/data/agent-b/x`, and the gateway forwards the canonical form, so the
 * upstream acts on exactly what was decided. Every path found is also returned, to be decided on its own.
 * Arguments the schema does not declare are left out of the decision (no policy can read them); a declared
 * one of the wrong type is refused by the schema check, which denies the call.
 */
import { canonicalPath } from './canonical.js';
import { PolicyInputError } from './errors.js';
import type { RecordType, SType } from './schema-model.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deeper than this, arguments are refused: their paths could not all be found. */
const MAX_DEPTH = 64;

export interface PathArguments {
  /** The arguments with every path argument canonical (the same object when nothing changed). */
  args: Record<string, unknown>;
  /** Every path found, canonical, in order, without repeats. */
  paths: string[];
}

/**
 * Returns `args` with the named path arguments, wherever they sit (nested objects, lists), in canonical form,
 * and the paths found. `roots` are the upstream's root directories (relative paths are resolved against the
 * first); `map` then replaces a canonical path (with where its symlinks lead). Throws PolicyInputError for a
 * path with a NUL, a relative path that climbs out, or nesting deeper than 64 levels.
 */
export function canonicalPathArguments(
  args: Record<string, unknown>,
  names: ReadonlySet<string>,
  roots: readonly string[] = [],
  map?: (path: string) => string,
): PathArguments {
  const found = new Set<string>();
  const path = (v: string): string => {
    const c = canonicalPath(v, roots);
    const p = map === undefined || c === '' ? c : map(c);
    if (p !== '') found.add(p);
    return p;
  };
  const value = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return path(v);
    if (Array.isArray(v)) return list(v, (x) => value(x, depth + 1));
    return walk(v, depth + 1);
  };
  const list = (v: unknown[], each: (x: unknown) => unknown): unknown[] => {
    const mapped = v.map(each);
    return mapped.some((x, i) => x !== v[i]) ? mapped : v;
  };
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > MAX_DEPTH) throw new PolicyInputError('the arguments are nested too deeply to find every path in them');
    if (Array.isArray(v)) return list(v, (x) => walk(x, depth + 1));
    if (!isRecord(v)) return v;
    let out: Record<string, unknown> | undefined;
    for (const [k, x] of Object.entries(v)) {
      const next = names.has(k) ? value(x, depth) : walk(x, depth + 1);
      // defineProperty: a `__proto__` key stays data.
      if (next !== x) Object.defineProperty((out ??= { ...v }), k, { value: next, enumerable: true, writable: true, configurable: true });
    }
    return out ?? v;
  };
  return { args: walk(args, 0) as Record<string, unknown>, paths: [...found] };
}

function project(v: unknown, t: SType): unknown {
  if (t.k === 'record' && isRecord(v)) return projectArguments(v, t);
  if (t.k === 'set' && Array.isArray(v)) return v.map((x) => project(x, t.el));
  return v;
}

/** Keeps the declared attributes only (recursively); values are left for the schema check. */
export function projectArguments(args: Record<string, unknown>, type: RecordType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, at] of type.attrs) {
    if (args[name] === undefined || args[name] === null) continue;
    out[name] = project(args[name], at.type);
  }
  return out;
}
