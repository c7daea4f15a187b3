/** JSON-RPC 2.0 message shapes and the validation the ingress applies to every message it accepts. */
import { DEFAULT_JSON_BOUNDS, jsonDepthExceeds } from './bounded-json.js';
import { JsonRpcCode, WardenError } from './errors.js';

export type JsonRpcId = string | number;
export type Params = Record<string, unknown>;

export interface JsonRpcRequest { jsonrpc: '2.0'; id: JsonRpcId; method: string; params?: Params }
export interface JsonRpcNotification { jsonrpc: '2.0'; method: string; params?: Params }
export interface JsonRpcSuccess { jsonrpc: '2.0'; id: JsonRpcId; result: Record<string, unknown> }
export interface JsonRpcErrorResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: { code: number; message: string; data?: unknown };
}
export type JsonRpcResponse = JsonRpcSuccess | JsonRpcErrorResponse;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const isRequest = (m: JsonRpcMessage): m is JsonRpcRequest => 'method' in m && 'id' in m;
export const isNotification = (m: JsonRpcMessage): m is JsonRpcNotification => 'method' in m && !('id' in m);
export const isResponse = (m: JsonRpcMessage): m is JsonRpcResponse => !('method' in m) && ('result' in m || 'error' in m);

function invalid(message: string): WardenError {
  return new WardenError('invalid_request', message, JsonRpcCode.InvalidRequest, 400);
}

const isId = (v: unknown): v is JsonRpcId => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates one parsed JSON value as a JSON-RPC 2.0 message, or throws a WardenError naming what is wrong. */
export function toMessage(value: unknown): JsonRpcMessage {
  if (Array.isArray(value)) {
    throw new WardenError('batch_not_supported', 'JSON-RPC batches are not supported by this protocol revision', JsonRpcCode.InvalidRequest, 400);
  }
  if (!isObject(value)) throw invalid('A JSON-RPC message must be an object');
  if (value.jsonrpc !== '2.0') throw invalid('"jsonrpc" must be "2.0"');
  if ('method' in value) {
    if (typeof value.method !== 'string' || value.method.length === 0) throw invalid('"method" must be a non-empty string');
    // A lone surrogate is not text: it cannot be stored or hashed as it was received (the audit records the method).
    if (!(value.method as unknown as { isWellFormed(): boolean }).isWellFormed()) throw invalid('"method" must be well-formed Unicode');
    if ('params' in value && value.params !== undefined && !isObject(value.params)) throw invalid('"params" must be an object');
    if ('id' in value) {
      if (!isId(value.id)) throw invalid('"id" must be a string or a number');
    }
    return value as unknown as JsonRpcMessage;
  }
  if ('result' in value || 'error' in value) {
    if (!isId(value.id)) throw invalid('A response needs the "id" of the request it answers');
    if ('result' in value && !isObject(value.result)) throw invalid('"result" must be an object');
    if ('error' in value) {
      const e = value.error;
      if (!isObject(e) || typeof e.code !== 'number' || typeof e.message !== 'string') throw invalid('"error" must have a numeric code and a message');
    }
    return value as unknown as JsonRpcMessage;
  }
  throw invalid('Not a JSON-RPC request, notification or response');
}

/**
 * Parses raw body text (its size bounded by the reader); malformed JSON is a parse error (-32700), JSON
 * nested deeper than `maxDepth` is refused before it is parsed (everything after the parse recurses).
 */
export function parseMessage(text: string, maxDepth = DEFAULT_JSON_BOUNDS.maxDepth): JsonRpcMessage {
  if (jsonDepthExceeds(text, maxDepth)) {
    throw new WardenError('body_too_deep', `The body is nested deeper than ${maxDepth} levels`, JsonRpcCode.InvalidRequest, 400);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WardenError('parse_error', 'The body is not valid JSON', JsonRpcCode.ParseError, 400);
  }
  return toMessage(value);
}

export function errorResponse(id: JsonRpcId | null, error: { code: number; message: string; data?: unknown }): JsonRpcErrorResponse {
  return { jsonrpc: '2.0', id, error };
}

export function successResponse(id: JsonRpcId, result: Record<string, unknown>): JsonRpcSuccess {
  return { jsonrpc: '2.0', id, result };
}
