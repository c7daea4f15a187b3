/**
 * Validation messages that name the exact key and the shape expected there. zod's own messages are kept
 * where they already say that; the ones a newcomer meets most are rewritten:
 * - an upstream that is neither stdio nor HTTP: the branch its keys point to is reported, not both;
 * - a wrong type: what was expected, what was given (`env.PORT: expected a string, got the number 3000 (quote it: "3000")`);
 * - an unknown key: the closest known key at that place (`unknown key "comand" (did you mean "command"?)`).
 */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at `path` in what was parsed (undefined where there is none). */
function valueAt(input: unknown, path: Path): unknown {
  let v = input;
  for (const key of path) {
    if (Array.isArray(v) && typeof key === 'number') v = v[key];
    else if (isRecord(v)) v = v[String(key)];
    else return undefined;
  }
  return v;
}

function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v)}`;
  return `the ${typeof v} ${String(v)}`;
}

const SHAPES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= (key.length < 4 ? 1 : Math.max(2, Math.floor(key.length / 3))) ? best : undefined;
}

export const pathText = (path: Path): string => (path.length > 0 ? path.map(String).join('.') : '(top level)');

/** The keys a strict object schema accepts at `path`, found by walking the schema (best effort). */
export function knownKeys(schema: z.core.$ZodType, path: Path, input: unknown): string[] {
  let s: z.core.$ZodType | undefined = schema;
  let value = input;
  const unwrap = (t: z.core.$ZodType | undefined): z.core.$ZodType | undefined => {
    for (let i = 0; t !== undefined && i < 10; i++) {
      const def = t._zod.def as unknown as Record<string, unknown>;
      if (def.innerType) t = def.innerType as z.core.$ZodType;
      else if (def.type === 'pipe') t = def.in as z.core.$ZodType;
      else if (def.type === 'union') t = pickBranch(def.options as z.core.$ZodType[], value);
      else return t;
    }
    return t;
  };
  for (const key of path) {
    s = unwrap(s);
    if (s === undefined) return [];
    const def = s._zod.def as unknown as Record<string, unknown>;
    if (def.type === 'object') s = (def.shape as Record<string, z.core.$ZodType>)[String(key)];
    else if (def.type === 'record') s = def.valueType as z.core.$ZodType;
    else if (def.type === 'array') s = def.element as z.core.$ZodType;
    else return [];
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string, unknown>)[String(key)] : undefined;
  }
  s = unwrap(s);
  const def = s?._zod.def as unknown as Record<string, unknown> | undefined;
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

/** Of a union of object schemas, the one whose own keys the value uses (command -> stdio, url -> HTTP). */
function pickBranch(options: z.core.$ZodType[], value: unknown): z.core.$ZodType | undefined {
  if (!isRecord(value)) return options[0];
  const own = (o: z.core.$ZodType) => {
    const def = o._zod.def as unknown as Record<string, unknown>;
    return def.type === 'object' ? Object.keys(def.shape as object) : [];
  };
  const shared = options.map(own).reduce((a, b) => a.filter((k) => b.includes(k)));
  return options.find((o) => own(o).some((k) => !shared.includes(k) && k in value)) ?? options[0];
}

/** An upstream that matched neither transport: say which keys decide, and what in it is wrong. */
function upstreamUnion(issue: Extract<Issue, { code: 'invalid_union' }>, input: unknown, schema: z.core.$ZodType): string[] {
  const where = pathText(issue.path);
  const value = valueAt(input, issue.path);
  if (!isRecord(value)) return [`${where}: expected a mapping with "command" (a stdio server) or "url" (an HTTP server), got ${showValue(value)}`];
  const has = (k: string) => k in value;
  if (has('command') && has('url')) return [`${where}: give either "command" (a stdio server) or "url" (an HTTP server), not both`];
  const branch = has('command') ? 0 : has('url') ? 1 : -1;
  if (branch >= 0) {
    const errors = issue.errors[branch] ?? [];
    return errors.flatMap((e) => describeIssue({ ...e, path: [...issue.path, ...e.path] } as Issue, input, schema));
  }
  const unknown = Object.keys(value);
  const hints = unknown.map((k) => ({ k, near: closest(k, ['command', 'url']) })).filter((h) => h.near !== undefined);
  const hint = hints.length > 0 ? ` ("${hints[0]!.k}" is not a known key: did you mean "${hints[0]!.near}"?)` : '';
  return [`${where}: an upstream needs "command" (a stdio server: command, args, env, cwd) or "url" (an HTTP server: url, headers, transport)${hint}`];
}

/** One issue as lines of text: `path: what is wrong, and the shape expected`. */
export function describeIssue(issue: Issue, input: unknown, schema: z.core.$ZodType): string[] {
  const where = pathText(issue.path);
  switch (issue.code) {
    case 'invalid_union':
      if (issue.path.length === 2 && issue.path[0] === 'mcpServers') return upstreamUnion(issue, input, schema);
      break;
    case 'invalid_type': {
      const given = valueAt(input, issue.path);
      const expected = SHAPES[issue.expected] ?? issue.expected;
      if (given === undefined) return [`${where}: required (${expected})`];
      const quote = issue.expected === 'string' && (typeof given === 'number' || typeof given === 'boolean') ? ` (quote it: "${String(given)}")` : '';
      return [`${where}: expected ${expected}, got ${showValue(given)}${quote}`];
    }
    case 'unrecognized_keys': {
      const known = knownKeys(schema, issue.path, input);
      return issue.keys.map((k) => {
        const near = closest(k, known);
        const at = issue.path.length > 0 ? `${where}.${k}` : k;
        const allowed = known.length > 0 && known.length <= 16 ? `; known keys here: ${known.join(', ')}` : '';
        return `${at}: unknown key${near ? ` (did you mean "${near}"?)` : ''}${allowed}`;
      });
    }
    default:
      break;
  }
  return [`${where}: ${issue.message}`];
}

export function describeIssues(issues: readonly Issue[], input: unknown, schema: z.core.$ZodType): string[] {
  return issues.flatMap((i) => describeIssue(i, input, schema));
}
