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
  const walk: Walk = { names, roots, map, found: [] };
  return { args: walkValue(walk, args, 0) as Record<string, unknown>, paths: walk.found };
}

/** One walk's state. Plain functions, not closures: this runs on every call's decision. */
interface Walk {
  names: ReadonlySet<string>;
  roots: readonly string[];
  map: ((path: string) => string) | undefined;
  found: string[];
}

function canonical(w: Walk, v: string): string {
  const c = canonicalPath(v, w.roots);
  const p = w.map === undefined || c === '' ? c : w.map(c);
  if (p !== '' && !w.found.includes(p)) w.found.push(p);
  return p;
}

/** A path argument's value: a path, a list of them, or (in a list) objects holding more arguments. */
function pathValue(w: Walk, v: unknown, depth: number): unknown {
  if (typeof v === 'string') return canonical(w, v);
  if (!Array.isArray(v)) return walkValue(w, v, depth + 1);
  let out: unknown[] | undefined;
  for (let i = 0; i < v.length; i++) {
    const next = pathValue(w, v[i], depth + 1);
    if (next !== v[i]) (out ??= [...v])[i] = next;
  }
  return out ?? v;
}

function walkValue(w: Walk, v: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new PolicyInputError('the arguments are nested too deeply to find every path in them');
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    let list: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const next = walkValue(w, v[i], depth + 1);
      if (next !== v[i]) (list ??= [...v])[i] = next;
    }
    return list ?? v;
  }
  const record = v as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(record)) {
    const x = record[k];
    const next = w.names.has(k) ? pathValue(w, x, depth) : walkValue(w, x, depth + 1);
    if (next === x) continue;
    out ??= { ...record };
    // defineProperty only where needed: it keeps a `__proto__` key data, but makes the object slow.
    if (k === '__proto__') Object.defineProperty(out, k, { value: next, enumerable: true, writable: true, configurable: true });
    else out[k] = next;
  }
  return out ?? record;
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
