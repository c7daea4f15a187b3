/**
 * Signs approvers in to the approval page with OpenID Connect: the gateway is a relying party using the
 * authorization code flow with PKCE (S256), `state` and `nonce`.
 *
 * - Discovery (`<issuer>/.well-known/openid-configuration`) is fetched on first use and kept; a failure is
 *   a 503 page and is retried on the next sign-in, so a provider that is down at start does not stick.
 * - The login in progress (state, nonce, PKCE verifier, where to go after) is a signed, HttpOnly cookie that
 *   lives 10 minutes: the callback is accepted only in the browser that started the sign-in, only once.
 * - The ID token is verified against the provider's JWKS (issuer, audience = clientId, nonce, exp); the
 *   configured claim names the approver. The session is a signed cookie holding that name and an expiry.
 * - After sign-in the browser goes only to a relative `/approvals/<uuid>` path (no open redirect).
 *
 * The code, the tokens, the verifier and the secrets never appear in a log line, an error or a page.
 */
import { randomBytes, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { approvalSignInCallbackUrl } from '../approvals/page-url.js';
import type { WardenConfig } from '../config/schema.js';
import type { Logger } from '../telemetry/log.js';
import { messagePage, sendPage } from './approval-html.js';
import { cookie, deriveKey, readCookie, sameString, seal, unseal } from './page-cookies.js';

export type ApprovalPageConfig = NonNullable<WardenConfig['approvals']['page']>;

/** The signed-in approver's cookie, and the cookie of a sign-in in progress. */
export const SESSION_COOKIE = 'warden_approver';
export const LOGIN_COOKIE = 'warden_signin';

const LOGIN_SECONDS = 600;
const DISCOVERY_TIMEOUT_MS = 5000;
const TOKEN_TIMEOUT_MS = 10_000;
/** Callbacks remembered as used (per replica); the provider refuses a reused code anyway. */
const MAX_USED = 10_000;
/** Asymmetric algorithms only: an ID token is never checked with a shared key or none. */
const ID_TOKEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** `/approvals/<uuid>`: the only paths an approver is sent to after sign-in, and the page's own routes. */
export const APPROVAL_PATH = /^\/approvals\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** `next` if it is a relative path to one request's page, else undefined. */
export function safeNext(next: unknown): string | undefined {
  return typeof next === 'string' && APPROVAL_PATH.test(next) ? next : undefined;
}

export interface ApproverSession {
  name: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** The cookie's value: CSRF tokens are bound to it, so a token from one sign-in is not valid in another. */
  binding: string;
}

export interface ApproverSignInOptions {
  signIn: ApprovalPageConfig['signIn'];
  /** From `signIn.clientSecretEnv`: a confidential client (client_secret_basic); absent for a public one. */
  clientSecret?: string;
  /** The page secret (at least 32 bytes); the keys of both cookies are derived from it. */
  secret: string;
  sessionMinutes: number;
  /** The gateway's public URL (known once it listens): the callback URL and the cookies' Secure flag. */
  publicUrl: () => string;
  log: Logger;
  /** Epoch milliseconds; injected for tests. */
  now?: () => number;
}

interface Discovery {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  jwks: JWTVerifyGetKey;
}

/** Why a sign-in failed: a status and a message for the page (never a token, a code or a secret). */
class SignInFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const random = (bytes: number) => randomBytes(bytes).toString('base64url');
const trimSlash = (s: string) => s.replace(/\/+$/, '');

function httpUrl(value: unknown, what: string): string {
  try {
    const u = new URL(String(value));
    if (u.protocol === 'https:' || u.protocol === 'http:') return u.href;
  } catch {
    // refused below
  }
  throw new Error(`the provider's ${what} is not an http(s) URL`);
}

export class ApproverSignIn {
  private readonly sessionKey: Buffer;
  private readonly loginKey: Buffer;
  private discovery?: Promise<Discovery>;
  /** States of completed sign-ins -> epoch ms after which their cookie has expired anyway. */
  private readonly used = new Map<string, number>();

  constructor(private readonly opts: ApproverSignInOptions) {
    this.sessionKey = deriveKey(opts.secret, 'session');
    this.loginKey = deriveKey(opts.secret, 'login');
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private secure(): boolean {
    return this.opts.publicUrl().startsWith('https:');
  }

  /** The signed-in approver of this request, if its session cookie is valid and unexpired. */
  session(req: IncomingMessage): ApproverSession | undefined {
    const raw = readCookie(req, SESSION_COOKIE);
    const p = unseal(this.sessionKey, raw);
    if (!p || typeof p.n !== 'string' || p.n === '' || typeof p.e !== 'number' || p.e * 1000 <= this.now()) return undefined;
    return { name: p.n, expiresAt: p.e, binding: raw! };
  }

  /** Sends the browser to the provider to sign in, to come back to `next` (a request's page). */
  async start(res: ServerResponse, next: string): Promise<void> {
    const target = safeNext(next);
    if (target === undefined) return sendPage(res, 400, messagePage('Sign-in refused', 'After sign-in you can only be sent to an approval request.'));
    let d: Discovery;
    try {
      d = await this.discover();
    } catch (err) {
      this.opts.log.warn({ issuer: this.opts.signIn.issuer, reason: (err as Error).message }, 'approval page: OpenID discovery failed');
      return sendPage(res, 503, messagePage('Sign-in unavailable', 'The sign-in provider cannot be reached right now. Try again in a moment.'), { 'retry-after': '10' });
    }
    const state = random(16);
    const nonce = random(16);
    const verifier = random(32);
    const url = new URL(d.authorizationEndpoint);
    const params = {
      response_type: 'code',
      client_id: this.opts.signIn.clientId,
      redirect_uri: approvalSignInCallbackUrl(this.opts.publicUrl()),
      scope: this.opts.signIn.scope,
      state,
      nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const login = seal(this.loginKey, { s: state, n: nonce, v: verifier, r: target, e: Math.floor(this.now() / 1000) + LOGIN_SECONDS });
    res.writeHead(302, { location: url.href, 'set-cookie': cookie(LOGIN_COOKIE, login, { maxAge: LOGIN_SECONDS, secure: this.secure() }), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    res.end();
  }

  /** `GET /approvals/callback`: finishes a sign-in started in this browser, sets the session, goes back to the request. */
  async callback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The sign-in cookie is single use: cleared whatever the outcome.
    const clear = cookie(LOGIN_COOKIE, '', { maxAge: 0, secure: this.secure() });
    try {
      const { name, next } = await this.finish(req);
      const expiresAt = Math.floor(this.now() / 1000) + this.opts.sessionMinutes * 60;
      const session = seal(this.sessionKey, { n: name, e: expiresAt, i: random(12) });
      this.opts.log.info({ approver: name }, 'approval page: approver signed in');
      res.writeHead(302, { location: next, 'set-cookie': [clear, cookie(SESSION_COOKIE, session, { maxAge: this.opts.sessionMinutes * 60, secure: this.secure() })], 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end();
    } catch (err) {
      const f = err instanceof SignInFailure ? err : new SignInFailure(500, 'The sign-in could not be completed.');
      if (!(err instanceof SignInFailure)) this.opts.log.error({ reason: (err as Error).message }, 'approval page: sign-in failed');
      sendPage(res, f.status, messagePage('Sign-in failed', f.message), { 'set-cookie': clear });
    }
  }

  private async finish(req: IncomingMessage): Promise<{ name: string; next: string }> {
    const query = new URL(req.url ?? '/', 'http://callback').searchParams;
    const error = query.get('error');
    if (error !== null) {
      const shown = /^[\w.-]{1,64}$/.test(error) ? error : 'unknown error';
      throw new SignInFailure(400, `The sign-in provider did not sign you in (${shown}). Open the approval link to try again.`);
    }
    const login = unseal(this.loginKey, readCookie(req, LOGIN_COOKIE));
    const stale = 'This sign-in is not valid here: it must be finished in the browser that started it, within 10 minutes, once. Open the approval link again.';
    if (!login || typeof login.e !== 'number' || login.e * 1000 <= this.now()) throw new SignInFailure(400, stale);
    const { s: state, n: nonce, v: verifier } = login;
    const next = safeNext(login.r);
    if (typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string' || next === undefined) throw new SignInFailure(400, stale);
    if (!sameString(query.get('state') ?? '', state) || this.used.has(state)) throw new SignInFailure(400, stale);
    const code = query.get('code');
    if (!code || code.length > 4096) throw new SignInFailure(400, 'The sign-in response carries no code.');
    const d = await this.discover().catch(() => {
      throw new SignInFailure(503, 'The sign-in provider cannot be reached right now. Try again in a moment.');
    });
    const idToken = await this.exchange(d, code, verifier);
    this.remember(state, login.e * 1000);
    return { name: await this.verify(d, idToken, nonce), next };
  }

  /** The code for tokens at the token endpoint; returns the ID token. */
  private async exchange(d: Discovery, code: string, verifier: string): Promise<string> {
    const { clientId } = this.opts.signIn;
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: approvalSignInCallbackUrl(this.opts.publicUrl()), code_verifier: verifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    // RFC 6749 2.3.1: a confidential client authenticates with HTTP Basic; a public one names itself in the form.
    if (this.opts.clientSecret !== undefined) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(this.opts.clientSecret)}`).toString('base64')}`;
    else form.set('client_id', clientId);
    const refused = new SignInFailure(502, 'The sign-in provider did not accept the sign-in. Open the approval link to try again.');
    let res: Response;
    try {
      res = await fetch(d.tokenEndpoint, { method: 'POST', headers, body: form.toString(), redirect: 'error', signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS) });
    } catch (err) {
      this.opts.log.warn({ reason: (err as Error).name }, 'approval page: the token endpoint could not be reached');
      throw refused;
    }
    let body: Record<string, unknown> = {};
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      // refused below
    }
    if (res.status !== 200 || typeof body.id_token !== 'string') {
      // Only the OAuth error code is logged: the body may echo what was sent.
      const code = typeof body.error === 'string' && /^[\w.-]{1,64}$/.test(body.error) ? body.error : undefined;
      this.opts.log.warn({ status: res.status, error: code }, 'approval page: the token endpoint refused the code');
      throw refused;
    }
    return body.id_token;
  }

  /** The approver's name from a verified ID token. */
  private async verify(d: Discovery, idToken: string, nonce: string): Promise<string> {
    const { clientId, claim } = this.opts.signIn;
    const refused = new SignInFailure(403, 'The sign-in could not be verified. Open the approval link to try again.');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(idToken, d.jwks, { issuer: d.issuer, audience: clientId, algorithms: ID_TOKEN_ALGS, requiredClaims: ['exp', 'iat', 'sub', 'nonce'], currentDate: new Date(this.now()), clockTolerance: 60 }));
    } catch (err) {
      const e = err as { code?: string; claim?: string };
      this.opts.log.warn({ code: e.code, claim: e.claim }, 'approval page: ID token refused');
      throw refused;
    }
    // OIDC Core 3.1.3.7: with several audiences the token must be issued to this client (azp).
    const azpOk = payload.azp === undefined ? !Array.isArray(payload.aud) || payload.aud.length === 1 : payload.azp === clientId;
    if (typeof payload.nonce !== 'string' || !sameString(payload.nonce, nonce) || !azpOk) {
      this.opts.log.warn({ code: azpOk ? 'nonce_mismatch' : 'azp_mismatch' }, 'approval page: ID token refused');
      throw refused;
    }
    const name = payload[claim];
    if (typeof name !== 'string' || name.trim() === '' || name.length > 256) {
      this.opts.log.warn({ claim }, 'approval page: the ID token does not carry the approver claim');
      throw new SignInFailure(403, `Your sign-in does not name you (the claim "${claim}" is missing or empty), so you cannot approve here.`);
    }
    return name;
  }

  private remember(state: string, until: number): void {
    const now = this.now();
    for (const [s, t] of this.used) if (t <= now) this.used.delete(s);
    // Oldest first: beyond the cap the oldest are forgotten (their codes are spent at the provider anyway).
    while (this.used.size >= MAX_USED) this.used.delete(this.used.keys().next().value!);
    this.used.set(state, until);
  }

  /** The provider's metadata, fetched once; a failure is forgotten so the next sign-in tries again. */
  private discover(): Promise<Discovery> {
    this.discovery ??= this.fetchDiscovery().catch((err: unknown) => {
      this.discovery = undefined;
      throw err;
    });
    return this.discovery;
  }

  private async fetchDiscovery(): Promise<Discovery> {
    const configured = this.opts.signIn.issuer;
    const res = await fetch(`${trimSlash(configured)}/.well-known/openid-configuration`, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
    if (res.status !== 200) throw new Error(`discovery answered ${res.status}`);
    const m = (await res.json()) as Record<string, unknown>;
    // OpenID Connect Discovery 4.3: the document must be for the issuer that was asked.
    if (typeof m.issuer !== 'string' || trimSlash(m.issuer) !== trimSlash(configured)) throw new Error('the discovered issuer is not the configured one');
    return {
      issuer: m.issuer,
      authorizationEndpoint: httpUrl(m.authorization_endpoint, 'authorization_endpoint'),
      tokenEndpoint: httpUrl(m.token_endpoint, 'token_endpoint'),
      jwks: createRemoteJWKSet(new URL(httpUrl(m.jwks_uri, 'jwks_uri')), { timeoutDuration: DISCOVERY_TIMEOUT_MS }),
    };
  }
}
