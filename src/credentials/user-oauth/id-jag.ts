/**
 * The enterprise variant (MCP enterprise-managed authorization, docs/user-oauth.md): where the user's
 * identity provider issues Identity Assertion JWT Authorization Grants (ID-JAG), the gateway gets the user's
 * upstream token without a browser step, in two requests:
 * 1. RFC 8693 token exchange at the identity provider: the subject token (signed by the gateway for the user,
 *    its agent as actor; published at /.well-known/jwks.json) for an ID-JAG whose audience is the upstream's
 *    authorization server and whose resource is the upstream;
 * 2. RFC 7523 JWT bearer grant at that authorization server with the ID-JAG as the assertion.
 * No refresh token is issued: when the access token is due, both steps run again. Nothing here logs a token.
 */
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { OAuthTokensSchema } from '@modelcontextprotocol/sdk/shared/auth.js';
import { boundedFetch, type OAuthUpstream, type UpstreamOAuthConfig } from './upstream-client.js';

export type IdJagConfig = NonNullable<UpstreamOAuthConfig['idJag']>;

const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** A refusal by either server: its OAuth error code only (the body may echo what was sent). */
export class IdJagError extends Error {
  constructor(readonly step: 'exchange' | 'grant', readonly errorCode: string) {
    super(`the ${step === 'exchange' ? 'identity provider refused the token exchange' : 'authorization server refused the ID-JAG'} (${errorCode})`);
  }
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function tokenRequest(url: string, form: URLSearchParams, authorization: string | undefined, step: 'exchange' | 'grant'): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (authorization) headers.authorization = authorization;
  let res: Response;
  try {
    res = await boundedFetch(url, { method: 'POST', headers, body: form.toString() });
  } catch {
    throw new IdJagError(step, 'unreachable');
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.status !== 200) throw new IdJagError(step, typeof body.error === 'string' && /^[\w.-]{1,64}$/.test(body.error) ? body.error : `http_${res.status}`);
  return body;
}

/** The user's upstream tokens via ID-JAG. `subject` is the gateway-signed subject token; `idpSecret` the gateway's client secret at the identity provider. */
export async function tokensViaIdJag(o: OAuthUpstream, cfg: IdJagConfig, subject: string, idpSecret: string): Promise<OAuthTokens> {
  const exchange = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG,
    subject_token: subject,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: o.issuer,
    resource: o.resource,
    ...(o.scope ? { scope: o.scope } : {}),
  });
  const jag = await tokenRequest(cfg.tokenUrl, exchange, basic(cfg.clientId, idpSecret), 'exchange');
  if (jag.issued_token_type !== ID_JAG || typeof jag.access_token !== 'string') throw new IdJagError('exchange', 'not_an_id_jag');
  const grant = new URLSearchParams({ grant_type: JWT_BEARER, assertion: jag.access_token, resource: o.resource, ...(o.scope ? { scope: o.scope } : {}) });
  const secret = 'client_secret' in o.client ? o.client.client_secret : undefined;
  if (!secret) grant.set('client_id', o.client.client_id);
  const body = await tokenRequest(o.metadata.token_endpoint, grant, secret ? basic(o.client.client_id, secret) : undefined, 'grant');
  const parsed = OAuthTokensSchema.safeParse(body);
  if (!parsed.success) throw new IdJagError('grant', 'invalid_token_response');
  return parsed.data;
}
