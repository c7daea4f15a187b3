/** RFC 9728 protected-resource metadata and RFC 6750 challenges, which tell a client how to get a token for us. */
import type { AuthError } from './errors.js';

/** The path-suffixed metadata URL for a resource, e.g. https://gw/.well-known/oauth-protected-resource/mcp. */
export function metadataUrl(resource: string): string {
  const u = new URL(resource);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}/.well-known/oauth-protected-resource${path}`;
}

export function protectedResourceMetadata(resource: string, authorizationServers: string[], scopes: string[]): Record<string, unknown> {
  return {
    resource,
    authorization_servers: authorizationServers,
    bearer_methods_supported: ['header'],
    // Only what every request needs: listing every scope is the over-broad request the MCP spec warns of.
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    resource_name: 'mcp-warden',
  };
}

const quote = (s: string) => `"${s.replace(/["\\]/g, '')}"`;

/** The WWW-Authenticate value for a refused request. No error attribute when no credential was sent (RFC 6750 3.1). */
export function challenge(err: AuthError, resourceMetadata: string, requiredScopes: string[]): string {
  const parts = [`resource_metadata=${quote(resourceMetadata)}`];
  const scope = err.scope ?? requiredScopes;
  if (scope.length > 0) parts.push(`scope=${quote(scope.join(' '))}`);
  if (!err.missing) parts.push(`error=${quote(err.code)}`, `error_description=${quote(err.description)}`);
  return `Bearer ${parts.join(', ')}`;
}
