/** JSON in and out for the admin API: a typed refusal with an HTTP status, a bounded body reader, the answer. */
import { readLimitedBody } from '../core/read-body.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A refusal the API answers as `{error, message}`. Messages name what is wrong, never a token or a secret. */
export class AdminError extends Error {
  override readonly name = 'AdminError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const MAX_BODY_BYTES = 16 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...extra });
  res.end(text);
}

const tooLarge = () => new AdminError(413, 'body_too_large', `The body exceeds ${MAX_BODY_BYTES} bytes`, { connection: 'close' });

const readRaw = (req: IncomingMessage, limit: number): Promise<string> => readLimitedBody(req, limit, tooLarge);

/** The JSON object in the body (an empty body is `{}`); a body must be declared application/json. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readRaw(req, MAX_BODY_BYTES);
  if (raw.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new AdminError(415, 'unsupported_media_type', 'Send the body as application/json');
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new AdminError(400, 'invalid_request', 'The body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminError(400, 'invalid_request', 'The body must be a JSON object');
  return body as Record<string, unknown>;
}

/** An optional string field of at most `max` characters; empty is absent. */
export function optionalText(body: Record<string, unknown>, field: string, max = 2000): string | null {
  const v = body[field];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > max) throw new AdminError(400, 'invalid_request', `${field} must be a string of at most ${max} characters`);
  return v;
}

/** A query parameter restricted to `allowed` values, or its default. */
export function queryChoice<T extends string>(query: URLSearchParams, name: string, allowed: readonly T[], fallback: T): T {
  const v = query.get(name) ?? fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new AdminError(400, 'invalid_request', `${name} must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** `limit` between 1 and 1000 (default 100). */
export function queryLimit(query: URLSearchParams): number {
  const raw = query.get('limit');
  if (raw === null) return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new AdminError(400, 'invalid_request', 'limit must be an integer from 1 to 1000');
  return n;
}
