/**
 * A call's arguments on their way into a decision. Path arguments are normalised lexically, so a policy
 * that allows `/data/agent-a/*` sees `/data/agent-a/../agent-b/x` as `/data/agent-b/x`; the gateway forwards
 * the normalised form, so the upstream acts on exactly what was decided. Arguments the schema does not
 * declare are left out of the decision (no policy can read them); a declared one of the wrong type is
 * refused by the schema check, which denies the call.
 */
import { posix } from 'node:path';
import { PolicyInputError } from './errors.js';
import type { RecordType, SType } from './schema-model.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function normalisePath(v: string, name: string): string {
  if (v.includes('\0')) throw new PolicyInputError(`argument \`${name}\` contains a NUL byte`);
  if (v === '' || (!v.includes('/') && v !== '.' && v !== '..')) return v;
  return posix.normalize(v);
}

/** Returns `args` with the named path arguments (strings or lists of strings) normalised; the same object if none changed. */
export function normalisePathArguments(args: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const name of names) {
    const v = args[name];
    let next: unknown = v;
    if (typeof v === 'string') next = normalisePath(v, name);
    else if (Array.isArray(v)) {
      const mapped = v.map((x) => (typeof x === 'string' ? normalisePath(x, name) : x));
      if (mapped.some((x, i) => x !== v[i])) next = mapped;
    }
    if (next !== v) (out ??= { ...args })[name] = next;
  }
  return out ?? args;
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
