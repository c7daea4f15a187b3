/** MCP protocol revisions the gateway speaks, on each leg. */

/** The stateless revision: no initialize, no sessions, version and capabilities in each request's `_meta`. */
export const MODERN_REVISION = '2026-07-28';

/** Initialize-based revisions accepted from clients, newest first. */
export const LEGACY_REVISIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;

export const SUPPORTED_REVISIONS: readonly string[] = [MODERN_REVISION, ...LEGACY_REVISIONS];

/** What a client that sends no MCP-Protocol-Version header is assumed to speak (per the transport spec). */
export const HEADERLESS_REVISION = '2025-03-26';

/** The revision the gateway asks upstreams for; each upstream may answer with an older one it supports. */
export const UPSTREAM_REVISION = '2025-11-25';

export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const RESERVED_META_PREFIX = 'io.modelcontextprotocol/';

export function isLegacyRevision(v: string): boolean {
  return (LEGACY_REVISIONS as readonly string[]).includes(v);
}

/** The revision to answer an initialize with: the client's if we speak it, else our newest legacy one. */
export function negotiateLegacy(requested: unknown): string {
  return typeof requested === 'string' && isLegacyRevision(requested) ? requested : LEGACY_REVISIONS[0];
}

/**
 * Copies params without the modern per-request metadata, which legacy upstreams do not understand.
 * Returns the same object when there is nothing to strip (the common case costs no copy).
 */
export function stripModernMeta(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const meta = params?._meta as Record<string, unknown> | undefined;
  if (!params || !meta || typeof meta !== 'object') return params;
  const keys = Object.keys(meta);
  if (!keys.some((k) => k.startsWith(RESERVED_META_PREFIX))) return params;
  const kept = Object.fromEntries(keys.filter((k) => !k.startsWith(RESERVED_META_PREFIX)).map((k) => [k, meta[k]]));
  const { _meta: _dropped, ...rest } = params;
  return Object.keys(kept).length > 0 ? { ...rest, _meta: kept } : rest;
}
