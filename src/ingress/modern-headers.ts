/**
 * 2026-07-28 mirrors body fields into headers so intermediaries can route without parsing. A gateway that
 * processes the body must check they agree, or a load balancer and the gateway could act on different
 * requests. Mismatch or absence is 400 HeaderMismatch (-32020).
 */
import type { IncomingMessage } from 'node:http';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcRequest } from '../protocol/jsonrpc.js';

const NAMED: Record<string, 'name' | 'uri'> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };
const SENTINEL = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/;

function mismatch(detail: string): WardenError {
  return new WardenError('header_mismatch', `Header mismatch: ${detail}`, JsonRpcCode.HeaderMismatch, 400);
}

/** Decodes a header value that may use the `=?base64?...?=` sentinel. */
export function decodeHeaderValue(v: string): string {
  const m = SENTINEL.exec(v);
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8') : v;
}

export function checkModernHeaders(req: IncomingMessage, msg: JsonRpcRequest, metaVersion: unknown): void {
  const get = (n: string) => {
    const v = req.headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  const version = get('mcp-protocol-version');
  if (version === undefined) throw mismatch('MCP-Protocol-Version header is required');
  if (version !== metaVersion) throw mismatch('MCP-Protocol-Version header does not match _meta protocol version');
  const method = get('mcp-method');
  if (method === undefined) throw mismatch('Mcp-Method header is required');
  if (method !== msg.method) throw mismatch('Mcp-Method header does not match the body');
  const field = NAMED[msg.method];
  if (field) {
    const name = get('mcp-name');
    if (name === undefined) throw mismatch('Mcp-Name header is required');
    if (decodeHeaderValue(name) !== msg.params?.[field]) throw mismatch(`Mcp-Name header does not match params.${field}`);
  }
}
