/**
 * The identity endpoints: RFC 9728 protected-resource metadata (root and path-suffixed forms), the JWKS of
 * gateway tokens, and the RFC 8693 token endpoint. Token endpoint errors use the RFC 6749 shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../core/ids.js';
import type { Gateway } from '../gateway/gateway.js';
import { GRANT_TOKEN_EXCHANGE, TokenExchangeError, type Identity } from '../identity/index.js';
import { WardenError } from '../protocol/errors.js';
import { readBody } from './body.js';

const FORM = 'application/x-www-form-urlencoded';
const MAX_FORM_BYTES = 64 * 1024;

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...extra });
  res.end(text);
}

/** Answers the request if it is one of the identity endpoints; returns false otherwise. */
export function routeIdentity(path: string, req: IncomingMessage, res: ServerResponse, identity: Identity, gateway: Gateway, clock: Clock): boolean {
  const resourcePath = new URL(identity.resource).pathname;
  if (path === '/.well-known/oauth-protected-resource' || path === `/.well-known/oauth-protected-resource${resourcePath}`) {
    if (!identity.metadata) return false;
    json(res, 200, identity.metadata, { 'cache-control': 'public, max-age=300' });
    return true;
  }
  if (path === '/.well-known/oauth-authorization-server' && identity.exchange) {
    // RFC 8414 for the gateway's own token service: it only exchanges tokens, it does not log users in.
    const origin = new URL(identity.resource).origin;
    json(res, 200, {
      issuer: identity.exchange.issuer,
      token_endpoint: `${origin}/oauth/token`,
      jwks_uri: `${origin}/.well-known/jwks.json`,
      grant_types_supported: [GRANT_TOKEN_EXCHANGE],
      token_endpoint_auth_methods_supported: ['none'],
    }, { 'cache-control': 'public, max-age=300' });
    return true;
  }
  if (path === '/.well-known/jwks.json' && identity.keys) {
    void identity.keys.publicJwks().then(
      (jwks) => json(res, 200, jwks, { 'cache-control': 'public, max-age=60' }),
      () => json(res, 503, { error: 'temporarily_unavailable' }),
    );
    return true;
  }
  if (path === '/oauth/token' && identity.exchange) {
    void tokenEndpoint(req, res, identity, gateway, clock);
    return true;
  }
  return false;
}

async function tokenEndpoint(req: IncomingMessage, res: ServerResponse, identity: Identity, gateway: Gateway, clock: Clock): Promise<void> {
  const meta = { protocolVersion: null, startedAt: clock.now(), principal: null };
  try {
    if (req.method !== 'POST') throw new TokenExchangeError('invalid_request', 'Use POST');
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith(FORM)) throw new TokenExchangeError('invalid_request', `Content-Type must be ${FORM}`);
    if (/[?&](subject_token|actor_token)=/.test(req.url ?? '')) throw new TokenExchangeError('invalid_request', 'Tokens in the query string are not accepted');
    const form = new URLSearchParams(await readBody(req, MAX_FORM_BYTES));
    const { body, issued } = await identity.exchange!.exchange(form);
    await gateway.recordOutcome('oauth/token', null, { ...meta, principal: issued });
    json(res, 200, body, { pragma: 'no-cache' });
  } catch (err) {
    const e = err instanceof TokenExchangeError ? err : err instanceof WardenError && err.code === 'body_too_large' ? new TokenExchangeError('invalid_request', err.message) : undefined;
    // The audit reason is the OAuth error code itself (invalid_scope, invalid_grant, unauthorized_client, ...).
    const failure = new WardenError(e?.code ?? 'internal', e?.description ?? 'token exchange failed', -32600, 400);
    await gateway.recordOutcome('oauth/token', null, meta, failure).catch(() => undefined);
    if (e) json(res, 400, { error: e.code, error_description: e.description });
    else json(res, 500, { error: 'server_error', error_description: 'The token could not be issued' });
  }
}
