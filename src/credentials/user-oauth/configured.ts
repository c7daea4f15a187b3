/**
 * Which upstreams take a per-user credential of one kind (`auth.oauth` or `auth.userKey`): the Connections
 * page lists them, and a request naming another upstream is refused as unknown.
 */
import type { HttpServerConfig, ServerConfig } from '../../config/schema.js';

export type UserAuthKind = 'oauth' | 'userKey';

const authOf = (server: ServerConfig | undefined, kind: UserAuthKind) => (server !== undefined && 'url' in server ? server.auth?.[kind] : undefined);

/** The upstreams configured with `auth.<kind>`, in config order. */
export function upstreamsWith(servers: ReadonlyMap<string, ServerConfig>, kind: UserAuthKind): string[] {
  return [...servers].filter(([, s]) => authOf(s, kind) !== undefined).map(([n]) => n);
}

/** The upstream's config if it is configured with `auth.<kind>`; else undefined. */
export function serverWith(servers: ReadonlyMap<string, ServerConfig>, upstream: string, kind: UserAuthKind): HttpServerConfig | undefined {
  const s = servers.get(upstream);
  return authOf(s, kind) === undefined ? undefined : (s as HttpServerConfig);
}
