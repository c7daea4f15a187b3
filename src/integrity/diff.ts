/**
 * A readable diff of two pinned definitions for `warden tools diff`: the description (and every other text)
 * line by line, and the schema by JSON path, so an operator sees exactly what changed. Hidden characters are
 * shown escaped (\u{e0041}), never printed raw to the terminal.
 */
import { excerpt } from './text-checks.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf of a JSON value by path (`inputSchema.properties.path.description`). */
function leaves(v: unknown, path: string, out: Map<string, unknown>): Map<string, unknown> {
  if (isObject(v) && Object.keys(v).length > 0) for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  else if (Array.isArray(v) && v.length > 0 && !v.every((x) => typeof x !== 'object' || x === null)) v.forEach((x, i) => leaves(x, `${path}[${i}]`, out));
  else out.set(path, v);
  return out;
}

const shown = (v: unknown): string => {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return excerpt(text ?? 'undefined', 0, 100_000);
};

/** Line diff (longest common subsequence) of two texts, as `  ` / `- ` / `+ ` lines. */
function lineDiff(a: string, b: string): string[] {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length * y.length > 250_000) return [...x.map((l) => `- ${l}`), ...y.map((l) => `+ ${l}`)];
  const dp = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) dp[i]![j] = x[i] === y[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      out.push(`  ${excerpt(x[i]!, 0, 100_000)}`);
      i++;
      j++;
    } else if (j < y.length && (i >= x.length || dp[i]![j + 1]! >= dp[i + 1]![j]!)) out.push(`+ ${excerpt(y[j++]!, 0, 100_000)}`);
    else out.push(`- ${excerpt(x[i++]!, 0, 100_000)}`);
  }
  return out;
}

/** The diff of two canonical definitions (JSON text): changed, added and removed fields, texts line by line. */
export function definitionDiff(before: string, after: string): string[] {
  const a = leaves(JSON.parse(before), '', new Map());
  const b = leaves(JSON.parse(after), '', new Map());
  const out: string[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(path);
    const y = b.get(path);
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    if (typeof x === 'string' && typeof y === 'string') {
      out.push(`~ ${path}:`, ...lineDiff(x, y).map((l) => `    ${l}`));
    } else if (!a.has(path)) out.push(`+ ${path}: ${shown(y)}`);
    else if (!b.has(path)) out.push(`- ${path}: ${shown(x)}`);
    else out.push(`~ ${path}: ${shown(x)} -> ${shown(y)}`);
  }
  return out;
}
