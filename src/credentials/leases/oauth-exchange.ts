/**
 * OAuth 2.0 Token Exchange (RFC 8693) against a downstream authorization server: the gateway presents a
 * short-lived JWT it signs for the task (the user as subject, the agent as actor, the task id) and gets an
 * access token for the downstream API, which the task's HTTP upstream connection carries. At the task's
 * end the token is revoked (RFC 7009) when the server offers a revocation endpoint.
 */
import { createHash } from 'node:crypto';

export interface ExchangeConfig {
  tokenUrl: string;
  clientId: string;
  audience?: string | undefined;
  resource?: string | undefined;
  scope?: string | undefined;
  revocationUrl?: string | undefined;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function post(url: string, form: Record<string, string>, clientId: string, secret: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(clientId, secret) },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
}

/** The access token the downstream server issues for `subjectToken`. Errors name the status and OAuth error code only. */
export async function exchangeToken(cfg: ExchangeConfig, subjectToken: string, clientSecret: string): Promise<{ accessToken: string; expiresIn: number | undefined }> {
  const form: Record<string, string> = { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: JWT_TYPE, requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
  if (cfg.audience) form.audience = cfg.audience;
  if (cfg.resource) form.resource = cfg.resource;
  if (cfg.scope) form.scope = cfg.scope;
  const res = await post(cfg.tokenUrl, form, cfg.clientId, clientSecret);
  const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
  if (!res.ok || typeof body.access_token !== 'string') {
    throw new Error(`the token exchange was refused (HTTP ${res.status}${typeof body.error === 'string' ? `, ${body.error}` : ''})`);
  }
  return { accessToken: body.access_token, expiresIn: typeof body.expires_in === 'number' ? body.expires_in : undefined };
}

/** RFC 7009: tells the downstream server the token is no longer needed. */
export async function revokeToken(cfg: ExchangeConfig, token: string, clientSecret: string): Promise<void> {
  if (!cfg.revocationUrl) return;
  const res = await post(cfg.revocationUrl, { token, token_type_hint: 'access_token' }, cfg.clientId, clientSecret);
  await res.body?.cancel().catch(() => undefined);
  if (!res.ok) throw new Error(`the token revocation was refused (HTTP ${res.status})`);
}

/** What a token lease is recorded by: a digest prefix, never the token. */
export const tokenHandle = (token: string): string => `token:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
