/**
 * The OAuth client credentials grant for `warden connect`: a token for the gateway (RFC 8707 `resource`),
 * cached until shortly before it expires. The client authenticates with client_secret_basic or with
 * private_key_jwt (see connect-private-key.ts); both are a `ClientAuth` that adds to the request.
 */
import type { Logger } from '../telemetry/log.js';
import { checkBearer, CredentialError, jwtExpiry, type CredentialSource } from './connect-credentials.js';

/** Adds the client's authentication to a token request (form fields or headers). */
export type ClientAuth = (form: URLSearchParams, headers: Record<string, string>) => Promise<void>;

/** RFC 6749 section 2.3.1: id and secret form-encoded, joined by ':', base64 in a Basic header. */
export function clientSecretBasic(clientId: string, readSecret: () => string): ClientAuth {
  const enc = (s: string) => new URLSearchParams({ v: s }).toString().slice(2);
  return (_form, headers) => {
    headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(readSecret())}`).toString('base64')}`;
    return Promise.resolve();
  };
}

export interface ClientCredentialsOptions {
  tokenUrl: string;
  clientId: string;
  /** The gateway's resource URI: the audience of the token (RFC 8707). */
  resource: string;
  scope?: string;
  auth: ClientAuth;
  log: Logger;
  now?: () => number;
  timeoutMs?: number;
}

interface CachedToken {
  value: string;
  /** Epoch ms: after this the token is no longer sent. */
  expiresAt: number;
  /** Epoch ms: from here on a new token is fetched first. */
  refreshAt: number;
}

const DEFAULT_LIFETIME_S = 300;

export class ClientCredentialsSource implements CredentialSource {
  private token?: CachedToken;
  private pending?: Promise<void>;
  private readonly now: () => number;

  constructor(private readonly opts: ClientCredentialsOptions) {
    this.now = opts.now ?? Date.now;
  }

  current(): string {
    return this.token ? `Bearer ${this.token.value}` : '';
  }

  async ensureFresh(): Promise<void> {
    const t = this.token;
    if (t && this.now() < t.refreshAt) return;
    try {
      await this.fetchOnce();
    } catch (err) {
      // A token that is due for renewal but still valid carries on while the endpoint is unavailable.
      if (t && this.token === t && this.now() < t.expiresAt) {
        this.opts.log.warn({ reason: (err as Error).message }, 'could not renew the access token; using the current one until it expires');
        return;
      }
      throw err;
    }
  }

  async refresh(refused: string): Promise<void> {
    if (this.current() !== refused && this.token) return;
    this.token = undefined;
    await this.fetchOnce();
  }

  /** One request at a time: concurrent callers share it. */
  private fetchOnce(): Promise<void> {
    this.pending ??= this.fetchToken().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async fetchToken(): Promise<void> {
    const { tokenUrl, log } = this.opts;
    const form = new URLSearchParams({ grant_type: 'client_credentials', resource: this.opts.resource });
    if (this.opts.scope) form.set('scope', this.opts.scope);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    await this.opts.auth(form, headers);
    let res: Response;
    try {
      res = await fetch(tokenUrl, { method: 'POST', headers, body: form.toString(), redirect: 'error', signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new CredentialError(`the token endpoint ${new URL(tokenUrl).origin} is unreachable (${cause})`);
    }
    const body = parseJson(await res.text().catch(() => ''));
    if (!res.ok) {
      const code = typeof body?.error === 'string' ? body.error.slice(0, 64) : `HTTP ${res.status}`;
      const description = typeof body?.error_description === 'string' ? body.error_description.slice(0, 200) : undefined;
      log.warn({ status: res.status, error: code, description }, 'the token endpoint refused the client credentials');
      throw new CredentialError(`the token endpoint refused the client credentials (${code})`);
    }
    if (typeof body?.access_token !== 'string') throw new CredentialError('the token endpoint answered without an access_token');
    const type = typeof body.token_type === 'string' ? body.token_type : 'Bearer';
    if (type.toLowerCase() !== 'bearer') throw new CredentialError(`the token endpoint issued a ${type.slice(0, 32)} token; only Bearer tokens are supported`);
    const value = checkBearer(body.access_token, 'the access token from the token endpoint');
    const now = this.now();
    const expiresIn = Number(body.expires_in);
    const exp = jwtExpiry(value);
    const lifetimeS = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : exp !== undefined ? exp - Math.floor(now / 1000) : DEFAULT_LIFETIME_S;
    // Renew a minute early, or a fifth of the lifetime early for short-lived tokens.
    const marginS = Math.min(60, lifetimeS / 5);
    this.token = { value, expiresAt: now + lifetimeS * 1000, refreshAt: now + (lifetimeS - marginS) * 1000 };
    log.debug({ expiresIn: lifetimeS }, 'obtained an access token');
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
