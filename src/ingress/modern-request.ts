/**
 * The 2026-07-28 rules a stateless request meets before the gateway sees it, and the shape of its answer.
 * Checked in the order the revision gives: the version header, the required `_meta` fields, the mirrored
 * headers against the body, the version itself, then methods the revision removed. Each refusal is a 400
 * (a 404 for a removed method) carrying the request's id.
 */
import type { IncomingMessage } from 'node:http';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../protocol/jsonrpc.js';
import { META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION, MODERN_REVISION, SUPPORTED_REVISIONS } from '../protocol/revisions.js';
import { checkModernHeaders } from './modern-headers.js';

/** Methods 2026-07-28 removed: a modern client that sends one is told they do not exist (404, -32601). */
const REMOVED = new Set(['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe', 'tasks/result', 'tasks/list']);

/** Results a client may cache, which therefore carry `ttlMs` and `cacheScope`. */
const CACHEABLE = new Set(['server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws the refusal for a stateless request that breaks one of the revision's request rules. */
export function checkModernRequest(req: IncomingMessage, msg: JsonRpcRequest): void {
  const header = req.headers['mcp-protocol-version'];
  if (header === undefined) throw new WardenError('header_mismatch', 'Header mismatch: MCP-Protocol-Version header is required', JsonRpcCode.HeaderMismatch, 400);
  const meta = msg.params?._meta;
  if (!isObject(meta) || typeof meta[META_PROTOCOL_VERSION] !== 'string' || !isObject(meta[META_CLIENT_CAPABILITIES])) {
    throw new WardenError('invalid_params', `Invalid params: _meta must carry ${META_PROTOCOL_VERSION} and ${META_CLIENT_CAPABILITIES}`, JsonRpcCode.InvalidParams, 400);
  }
  const version = meta[META_PROTOCOL_VERSION];
  checkModernHeaders(req, msg, version);
  if (version !== MODERN_REVISION) {
    const message = `Unsupported protocol version: ${version}`;
    throw new WardenError('unsupported_protocol_version', message, JsonRpcCode.UnsupportedProtocolVersion, 400, { supported: SUPPORTED_REVISIONS, requested: version });
  }
  if (REMOVED.has(msg.method)) throw new WardenError('method_not_found', `Method not found: ${msg.method}`, JsonRpcCode.MethodNotFound, 404);
}

/** The HTTP status of a stateless answer: an unknown method is a 404, a missing client capability a 400. */
export function modernStatus(response: JsonRpcResponse): number {
  if (!('error' in response)) return 200;
  if (response.error.code === JsonRpcCode.MethodNotFound) return 404;
  if (response.error.code === JsonRpcCode.MissingClientCapability) return 400;
  return 200;
}

/**
 * The answer as 2026-07-28 shapes it: every result says its type (`complete` unless it says otherwise), and a
 * cacheable one carries caching hints. What the gateway lists is filtered for the caller, so it is never
 * `public`, and it is not kept (`ttlMs` 0) unless the upstream gave a time: a policy change shows at once.
 */
export function shapeModernResponse(method: string, response: JsonRpcResponse): JsonRpcResponse {
  if ('error' in response) return response;
  const result: Record<string, unknown> = { resultType: 'complete', ...response.result };
  if (CACHEABLE.has(method)) {
    result.ttlMs = typeof result.ttlMs === 'number' && result.ttlMs >= 0 ? result.ttlMs : 0;
    result.cacheScope = 'private';
  }
  return { ...response, result };
}

/** The request's `Mcp-Param-*` headers by lower-cased name without the prefix (the tool's schema says which count). */
export function paramHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('mcp-param-') || value === undefined) continue;
    out[name.slice('mcp-param-'.length)] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
