/**
 * JSON from outside (a client body, an upstream line or event) parsed within bounds: a size and a nesting
 * depth. V8's JSON.parse itself copes with any depth, but everything after it recurses (JSON.stringify on the
 * way out, the redactor, canonical JSON for digests, policy input), so a value 200,000 levels deep that got
 * past the parse would overflow the stack wherever it went next. Checking the text first costs one pass
 * over it without recursion and stops at the first level too many, so an attack costs almost nothing.
 *
 *   parseBoundedJson('[[1]]', { maxBytes: 1024, maxDepth: 1 }) // throws JsonBoundsError (kind 'too_deep')
 */

export interface JsonBounds {
  /** Longest text accepted, in UTF-16 code units (the caller bounds bytes on the wire). */
  maxBytes: number;
  /** Deepest nesting of arrays and objects accepted; a top-level object is depth 1. */
  maxDepth: number;
}

/** The defaults of config `limits.maxJsonDepth` and `limits.maxUpstreamMessageBytes`. */
export const DEFAULT_JSON_BOUNDS: JsonBounds = { maxBytes: 16 * 1024 * 1024, maxDepth: 64 };

export type JsonBoundsKind = 'too_large' | 'too_deep' | 'not_json';

export class JsonBoundsError extends Error {
  override readonly name = 'JsonBoundsError';
  constructor(readonly kind: JsonBoundsKind, message: string) {
    super(message);
  }
}

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_ARRAY = 91;
const OPEN_OBJECT = 123;
const CLOSE_ARRAY = 93;
const CLOSE_OBJECT = 125;

/** True when the brackets of JSON text nest deeper than `maxDepth` (strings skipped); linear, no recursion. */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** True when a parsed value nests deeper than `maxDepth`; iterative, stops at the first level too many. */
export function valueDepthExceeds(value: unknown, maxDepth: number): boolean {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push({ v: child, depth: depth + 1 });
    }
  }
  return false;
}

/** Parses JSON text within `bounds`, or throws a JsonBoundsError saying which bound it broke. */
export function parseBoundedJson(text: string, bounds: JsonBounds): unknown {
  if (text.length > bounds.maxBytes) throw new JsonBoundsError('too_large', `larger than ${bounds.maxBytes} bytes`);
  if (jsonDepthExceeds(text, bounds.maxDepth)) {
    throw new JsonBoundsError('too_deep', `nested deeper than ${bounds.maxDepth} levels`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new JsonBoundsError('not_json', 'not valid JSON');
  }
}
