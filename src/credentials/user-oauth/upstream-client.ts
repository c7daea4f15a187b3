/**
 * The gateway as an OAuth client of one upstream: discovery and client registration, with the official
 * SDK's helpers (client/auth). Per upstream, once, cached; a failure is forgotten so the next try runs again.
 *
 * - RFC 9728: the upstream's protected-resource metadata names its authorization server and its `resource`,
 *   which must be the upstream's own URL (a server naming another resource is refused).
 * - RFC 8414 / OpenID discovery: the server's metadata must be for the issuer named, and offer PKCE S256
 *   (MCP: a server that does not say so is refused, not assumed).
 * - The client: a preconfigured id (and secret from the vault), else a Client ID Metadata Document URL where
 *   the server supports it, else dynamic registration (RFC 7591), whose result is kept in the vault.
 * - Every URL fetched is https, or http on a loopback host only (the SSRF rule of the MCP security notes);
 *   redirects are not followed.
 */
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  registerClient,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthClientInformationMixed } from '@modelcontextprotocol/sdk/shared/auth.js';
import { checkResourceAllowed } from '@modelcontextprotocol/sdk/shared/auth-utils.js';
import type { HttpServerConfig } from '../../config/schema.js';
import { SecretNotFound } from '../errors.js';
import { resolveSecret } from '../inject.js';
import type { Vault } from '../vault.js';

export type UpstreamOAuthConfig = NonNullable<NonNullable<HttpServerConfig['auth']>['oauth']>;

export interface OAuthUpstream {
  /** The resource indicator (RFC 8707) tokens are asked for. */
  resource: string;
  issuer: string;
  metadata: AuthorizationServerMetadata;
  client: OAuthClientInformationMixed;
  scope: string | undefined;
}

const FETCH_TIMEOUT_MS = 10_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Link-local addresses (cloud metadata services live there): never an OAuth server. */
const LINK_LOCAL = /^(169\.254\.\d{1,3}\.\d{1,3}|\[fe[89ab][0-9a-f]?:[^\]]*\])$/i;

/** Refuses a URL that is neither https nor http on a loopback host, or that names a link-local address. */
export function assertFetchable(url: string | URL, what: string): URL {
  const u = new URL(url);
  if (LINK_LOCAL.test(u.hostname)) throw new Error(`${what} must not be a link-local address`);
  if (u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname))) return u;
  throw new Error(`${what} must be https (http only on a loopback host)`);
}

/** fetch for the SDK's helpers: bounded in time, no redirects (each hop would need the URL checks again). */
export const boundedFetch = (input: string | URL, init?: RequestInit): Promise<Response> => {
  assertFetchable(input instanceof URL ? input : new URL(String(input)), 'an OAuth URL');
  return fetch(input, { ...init, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
};

const trimSlash = (s: string) => s.replace(/\/+$/, '');

/** Discovers the upstream's authorization server and the client to use with it (see the module comment). */
export async function discoverUpstream(upstream: string, server: HttpServerConfig, cfg: UpstreamOAuthConfig, redirectUri: string, vault: Vault): Promise<OAuthUpstream> {
  const { url } = server;
  const tenant = server.tenant ?? null;
  assertFetchable(url, `mcpServers.${upstream}.url`);
  const prm = await discoverOAuthProtectedResourceMetadata(url, {}, boundedFetch);
  const resource = prm.resource;
  if (!checkResourceAllowed({ requestedResource: url, configuredResource: resource })) throw new Error(`the upstream's metadata names another resource (${resource})`);
  const asUrl = prm.authorization_servers?.[0];
  if (asUrl === undefined) throw new Error('the upstream names no authorization server');
  assertFetchable(asUrl, 'the authorization server');
  const metadata = await discoverAuthorizationServerMetadata(asUrl, { fetchFn: boundedFetch });
  if (metadata === undefined) throw new Error('the authorization server publishes no metadata');
  if (trimSlash(metadata.issuer) !== trimSlash(asUrl)) throw new Error('the authorization server metadata is for another issuer');
  if (!metadata.code_challenge_methods_supported?.includes('S256')) throw new Error('the authorization server does not offer PKCE S256');
  for (const [what, endpoint] of [['authorization_endpoint', metadata.authorization_endpoint], ['token_endpoint', metadata.token_endpoint]] as const) assertFetchable(endpoint, what);
  const scopes = cfg.scopes ?? prm.scopes_supported;
  const scope = scopes && scopes.length > 0 ? scopes.join(' ') : undefined;
  const client = await clientFor(upstream, server, tenant, cfg, metadata, redirectUri, scope, vault);
  return { resource, issuer: metadata.issuer, metadata, client, scope };
}

/** The vault secret holding a dynamic registration's result, for one upstream. */
const registrationRef = (upstream: string, tenant: string | null) => ({ name: `user-oauth-client/${upstream}`, tenant, environment: null, upstream });

async function clientFor(
  upstream: string,
  server: HttpServerConfig,
  tenant: string | null,
  cfg: UpstreamOAuthConfig,
  metadata: AuthorizationServerMetadata,
  redirectUri: string,
  scope: string | undefined,
  vault: Vault,
): Promise<OAuthClientInformationMixed> {
  if (cfg.clientId !== undefined) {
    if (cfg.clientSecret === undefined) return { client_id: cfg.clientId };
    // Resolved like a `${secret:NAME}` reference: the most specific secret whose scope fits the upstream.
    const secret = await vault.get(await resolveSecret(vault, upstream, server, cfg.clientSecret));
    try {
      return { client_id: cfg.clientId, client_secret: secret.toString('utf8') };
    } finally {
      secret.fill(0);
    }
  }
  if (cfg.clientMetadataUrl !== undefined && metadata.client_id_metadata_document_supported === true) return { client_id: cfg.clientMetadataUrl };
  if (metadata.registration_endpoint === undefined) throw new Error('the authorization server offers no client registration: configure auth.oauth.clientId');
  assertFetchable(metadata.registration_endpoint, 'registration_endpoint');
  const ref = registrationRef(upstream, tenant);
  try {
    const kept = JSON.parse((await vault.get(ref)).toString('utf8')) as { issuer: string; redirectUri: string; client: OAuthClientInformationMixed };
    if (kept.issuer === metadata.issuer && kept.redirectUri === redirectUri) return kept.client;
  } catch (err) {
    if (!(err instanceof SecretNotFound)) throw err;
  }
  const registered = await registerClient(metadata.issuer, {
    metadata,
    clientMetadata: {
      client_name: 'mcp-warden',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...(scope ? { scope } : {}),
    },
    fetchFn: boundedFetch,
  });
  const client: OAuthClientInformationMixed = { client_id: registered.client_id, ...(registered.client_secret ? { client_secret: registered.client_secret } : {}) };
  await vault.remove(ref);
  await vault.set(ref, JSON.stringify({ issuer: metadata.issuer, redirectUri, client }));
  return client;
}

/** RFC 7009 revocation of one token, where the server offers it; false when it does not. Throws on a refusal. */
export async function revokeAt(o: OAuthUpstream, token: string, hint: 'access_token' | 'refresh_token'): Promise<boolean> {
  // OAuth metadata carries it (RFC 8414); the OpenID discovery type of the SDK does not name it.
  const endpoint = (o.metadata as { revocation_endpoint?: string }).revocation_endpoint;
  if (endpoint === undefined) return false;
  const form = new URLSearchParams({ token, token_type_hint: hint });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const secret = 'client_secret' in o.client ? o.client.client_secret : undefined;
  if (secret) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(o.client.client_id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  else form.set('client_id', o.client.client_id);
  const res = await boundedFetch(endpoint, { method: 'POST', headers, body: form.toString() });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`the revocation endpoint answered ${res.status}`);
  return true;
}
