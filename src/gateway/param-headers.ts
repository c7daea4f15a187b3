/**
 * `Mcp-Param-{Name}` headers (2026-07-28): a tool may mark primitive arguments with `x-mcp-header` in its
 * input schema, and clients mirror their values into headers so intermediaries can route on them. The
 * gateway acts on the body, so where a tool marks an argument the header must be there and match it, or a
 * balancer and the gateway could act on different values: 400 HeaderMismatch (-32020). Headers no tool
 * marks are not the gateway's to judge and are ignored.
 */
import { JsonRpcCode, WardenError } from '../protocol/errors.js';

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/;
/** Visible ASCII and inner spaces: what a header value may carry unencoded. */
const PLAIN = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function mismatch(detail: string): WardenError {
  return new WardenError('header_mismatch', `Header mismatch: ${detail}`, JsonRpcCode.HeaderMismatch, 400);
}

/** The header names a schema marks, each with its property path (only chains of `properties` count). */
export function markedParams(schema: unknown, path: string[] = [], out: Array<{ name: string; path: string[] }> = []): Array<{ name: string; path: string[] }> {
  if (!isObject(schema) || !isObject(schema.properties) || path.length > 16) return out;
  for (const [key, prop] of Object.entries(schema.properties)) {
    if (!isObject(prop)) continue;
    if (typeof prop['x-mcp-header'] === 'string' && prop['x-mcp-header'].length > 0) out.push({ name: prop['x-mcp-header'].toLowerCase(), path: [...path, key] });
    markedParams(prop, [...path, key], out);
  }
  return out;
}

function valueAt(args: unknown, path: string[]): unknown {
  let v = args;
  for (const key of path) v = isObject(v) ? v[key] : undefined;
  return v;
}

function decode(value: string): string {
  const m = SENTINEL.exec(value);
  if (m) return Buffer.from(m[1]!, 'base64').toString('utf8');
  if (!PLAIN.test(value)) throw mismatch('an Mcp-Param header holds characters it must encode');
  return value;
}

function same(header: string, body: unknown): boolean {
  if (typeof body === 'number') return header.trim() !== '' && Number(header) === body;
  if (typeof body === 'boolean') return header === String(body);
  return header === body;
}

/** Checks a tools/call's `Mcp-Param-*` headers (lower-cased names without the prefix) against its arguments. */
export function checkParamHeaders(inputSchema: unknown, args: unknown, headers: Readonly<Record<string, string>>): void {
  for (const { name, path } of markedParams(inputSchema)) {
    const body = valueAt(args, path);
    const header = headers[name];
    if (body === undefined || body === null) {
      if (header !== undefined) throw mismatch(`Mcp-Param-${name} is sent but the argument is absent`);
      continue;
    }
    if (header === undefined) throw mismatch(`Mcp-Param-${name} header is required`);
    if (!same(decode(header), body)) throw mismatch(`Mcp-Param-${name} header does not match the argument`);
  }
}
