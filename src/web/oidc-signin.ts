/**
 * Signs people in to the gateway's web pages (the approval page, the console) with OpenID Connect: the
 * gateway is a relying party using the authorization code flow with PKCE (S256), `state` and `nonce`. Each
 * page is a `SignInSite`: its cookie names and path, its callback, where a browser may be sent after sign-in,
 * and its own HKDF key purposes, so a cookie made for one page is never accepted by another.
 *
 * - Discovery (`<issuer>/.well-known/openid-configuration`) is fetched on first use and kept; a failure is
 *   a 503 page and is retried on the next sign-in, so a provider that is down at start does not stick.
 * - The login in progress (state, nonce, PKCE verifier, where to go after) is a signed, HttpOnly cookie that
 *   lives 10 minutes: the callback is accepted only in the browser that started the sign-in, only once.
 * - The ID token is verified against the provider's JWKS (issuer, audience = clientId, nonce, exp); the
 *   configured claim names the person, `groupsClaim` (when set) their groups. The session is a signed cookie
 *   holding those, a random id and an expiry, issued fresh at every sign-in (no session fixation).
 * - After sign-in the browser goes only to a relative path the site accepts (no open redirect).
 *
 * The code, the tokens, the verifier and the secrets never appear in a log line, an error or a page.
 */
import { randomBytes, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../telemetry/log.js';
import { cookie, deriveKey, readCookie, sameString, seal, unseal, type KeyPurpose } from './page-cookies.js';

/** The provider and client (config `approvals.page.signIn`, `console.signIn`). */
export interface SignInConfig {
  issuer: string;
  clientId: string;
  /** The ID token claim that names the person. */
  claim: string;
  /** The ID token claim holding the person's groups (an array of strings), if any. */
  groupsClaim?: string | undefined;
  scope: string;
}

/** What differs between the pages that sign people in. */
export interface SignInSite {
  /** For log lines: `approval page`, `console`. */
  label: string;
  /** Who signs in, for log lines: `approver`, `console user`. */
  who: string;
  cookiePath: string;
  sessionCookie: string;
  loginCookie: string;
  sessionKey: KeyPurpose;
  loginKey: KeyPurpose;
  callbackUrl: (publicUrl: string) => string;
  /** `next` if the browser may be sent there after sign-in (a relative path of the site), else undefined. */
  safeNext: (next: unknown) => string | undefined;
  /** Where the person starts again (in messages). */
  retry: string;
  /** Answers with an HTML message page. */
  render: (res: ServerResponse, status: number, title: string, message: string, headers?: Record<string, string | string[]>) => void;
}

const LOGIN_SECONDS = 600;
const DISCOVERY_TIMEOUT_MS = 5000;
const TOKEN_TIMEOUT_MS = 10_000;
/** Callbacks remembered as used (per replica); the provider refuses a reused code anyway. */
const MAX_USED = 10_000;
/** Asymmetric algorithms only: an ID token is never checked with a shared key or none. */
const ID_TOKEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** At most this many groups are kept in a session (the cookie stays under 4 KiB). */
const MAX_GROUPS = 32;

export interface SignInSession {
  name: string;
  /** From `groupsClaim`; empty when unset. */
  groups: string[];
  /** Epoch seconds. */
  expiresAt: number;
  /** The cookie's value: CSRF tokens are bound to it, so a token from one sign-in is not valid in another. */
  binding: string;
}

export interface OidcSignInOptions {
  signIn: SignInConfig;
  site: SignInSite;
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

export class OidcSignIn {
  private readonly sessionKey: Buffer;
  private readonly loginKey: Buffer;
  private discovery?: Promise<Discovery>;
  /** States of completed sign-ins -> epoch ms after which their cookie has expired anyway. */
  private readonly used = new Map<string, number>();

  constructor(private readonly opts: OidcSignInOptions) {
    this.sessionKey = deriveKey(opts.secret, opts.site.sessionKey);
    this.loginKey = deriveKey(opts.secret, opts.site.loginKey);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private secure(): boolean {
    return this.opts.publicUrl().startsWith('https:');
  }

  private cookie(name: string, value: string, maxAge: number): string {
    return cookie(name, value, { maxAge, secure: this.secure(), path: this.opts.site.cookiePath });
  }

  /** The signed-in person of this request, if their session cookie is valid and unexpired. */
  session(req: IncomingMessage): SignInSession | undefined {
    const raw = readCookie(req, this.opts.site.sessionCookie);
    const p = unseal(this.sessionKey, raw);
    if (!p || typeof p.n !== 'string' || p.n === '' || typeof p.e !== 'number' || p.e * 1000 <= this.now()) return undefined;
    const groups = Array.isArray(p.g) ? p.g.filter((g): g is string => typeof g === 'string') : [];
    return { name: p.n, groups, expiresAt: p.e, binding: raw! };
  }

  /** The Set-Cookie value that ends the session in this browser. */
  signOutCookie(): string {
    return this.cookie(this.opts.site.sessionCookie, '', 0);
  }

  /** Sends the browser to the provider to sign in, to come back to `next` (a page of the site). */
  async start(res: ServerResponse, next: string): Promise<void> {
    const { site } = this.opts;
    const target = site.safeNext(next);
    if (target === undefined) return site.render(res, 400, 'Sign-in refused', `After sign-in you can only be sent back to the ${site.label}.`);
    let d: Discovery;
    try {
      d = await this.discover();
    } catch (err) {
      this.opts.log.warn({ issuer: this.opts.signIn.issuer, reason: (err as Error).message }, `${site.label}: OpenID discovery failed`);
      return site.render(res, 503, 'Sign-in unavailable', 'The sign-in provider cannot be reached right now. Try again in a moment.', { 'retry-after': '10' });
    }
    const state = random(16);
    const nonce = random(16);
    const verifier = random(32);
    const url = new URL(d.authorizationEndpoint);
    const params = {
      response_type: 'code',
      client_id: this.opts.signIn.clientId,
      redirect_uri: this.opts.site.callbackUrl(this.opts.publicUrl()),
      scope: this.opts.signIn.scope,
      state,
      nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const login = seal(this.loginKey, { s: state, n: nonce, v: verifier, r: target, e: Math.floor(this.now() / 1000) + LOGIN_SECONDS });
    res.writeHead(302, { location: url.href, 'set-cookie': this.cookie(this.opts.site.loginCookie, login, LOGIN_SECONDS), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    res.end();
  }

  /** The callback route: finishes a sign-in started in this browser, sets a new session, goes back to the page. */
  async callback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { site } = this.opts;
    // The sign-in cookie is single use: cleared whatever the outcome.
    const clear = this.cookie(site.loginCookie, '', 0);
    try {
      const { name, groups, next } = await this.finish(req);
      const expiresAt = Math.floor(this.now() / 1000) + this.opts.sessionMinutes * 60;
      // A new random id each sign-in: whatever session cookie the browser held before is replaced.
      const session = seal(this.sessionKey, { n: name, g: groups, e: expiresAt, i: random(12) });
      this.opts.log.info({ person: name }, `${site.label}: ${site.who} signed in`);
      res.writeHead(302, { location: next, 'set-cookie': [clear, this.cookie(site.sessionCookie, session, this.opts.sessionMinutes * 60)], 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end();
    } catch (err) {
      const f = err instanceof SignInFailure ? err : new SignInFailure(500, 'The sign-in could not be completed.');
      if (!(err instanceof SignInFailure)) this.opts.log.error({ reason: (err as Error).message }, `${site.label}: sign-in failed`);
      site.render(res, f.status, 'Sign-in failed', f.message, { 'set-cookie': clear });
    }
  }

  private async finish(req: IncomingMessage): Promise<{ name: string; groups: string[]; next: string }> {
    const { retry } = this.opts.site;
    const query = new URL(req.url ?? '/', 'http://callback').searchParams;
    const error = query.get('error');
    if (error !== null) {
      const shown = /^[\w.-]{1,64}$/.test(error) ? error : 'unknown error';
      throw new SignInFailure(400, `The sign-in provider did not sign you in (${shown}). ${retry}`);
    }
    const login = unseal(this.loginKey, readCookie(req, this.opts.site.loginCookie));
    const stale = `This sign-in is not valid here: it must be finished in the browser that started it, within 10 minutes, once. ${retry}`;
    if (!login || typeof login.e !== 'number' || login.e * 1000 <= this.now()) throw new SignInFailure(400, stale);
    const { s: state, n: nonce, v: verifier } = login;
    const next = this.opts.site.safeNext(login.r);
    if (typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string' || next === undefined) throw new SignInFailure(400, stale);
    if (!sameString(query.get('state') ?? '', state) || this.used.has(state)) throw new SignInFailure(400, stale);
    const code = query.get('code');
    if (!code || code.length > 4096) throw new SignInFailure(400, 'The sign-in response carries no code.');
    const d = await this.discover().catch(() => {
      throw new SignInFailure(503, 'The sign-in provider cannot be reached right now. Try again in a moment.');
    });
    const idToken = await this.exchange(d, code, verifier);
    this.remember(state, login.e * 1000);
    return { ...(await this.verify(d, idToken, nonce)), next };
  }

  /** The code for tokens at the token endpoint; returns the ID token. */
  private async exchange(d: Discovery, code: string, verifier: string): Promise<string> {
    const { clientId } = this.opts.signIn;
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: this.opts.site.callbackUrl(this.opts.publicUrl()), code_verifier: verifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    // RFC 6749 2.3.1: a confidential client authenticates with HTTP Basic; a public one names itself in the form.
    if (this.opts.clientSecret !== undefined) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(this.opts.clientSecret)}`).toString('base64')}`;
    else form.set('client_id', clientId);
    const refused = new SignInFailure(502, `The sign-in provider did not accept the sign-in. ${this.opts.site.retry}`);
    let res: Response;
    try {
      res = await fetch(d.tokenEndpoint, { method: 'POST', headers, body: form.toString(), redirect: 'error', signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS) });
    } catch (err) {
      this.opts.log.warn({ reason: (err as Error).name }, `${this.opts.site.label}: the token endpoint could not be reached`);
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
      this.opts.log.warn({ status: res.status, error: code }, `${this.opts.site.label}: the token endpoint refused the code`);
      throw refused;
    }
    return body.id_token;
  }

  /** The person's name (and groups) from a verified ID token. */
  private async verify(d: Discovery, idToken: string, nonce: string): Promise<{ name: string; groups: string[] }> {
    const { clientId, claim, groupsClaim } = this.opts.signIn;
    const { label, retry } = this.opts.site;
    const refused = new SignInFailure(403, `The sign-in could not be verified. ${retry}`);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(idToken, d.jwks, { issuer: d.issuer, audience: clientId, algorithms: ID_TOKEN_ALGS, requiredClaims: ['exp', 'iat', 'sub', 'nonce'], currentDate: new Date(this.now()), clockTolerance: 60 }));
    } catch (err) {
      const e = err as { code?: string; claim?: string };
      this.opts.log.warn({ code: e.code, claim: e.claim }, `${label}: ID token refused`);
      throw refused;
    }
    // OIDC Core 3.1.3.7: with several audiences the token must be issued to this client (azp).
    const azpOk = payload.azp === undefined ? !Array.isArray(payload.aud) || payload.aud.length === 1 : payload.azp === clientId;
    if (typeof payload.nonce !== 'string' || !sameString(payload.nonce, nonce) || !azpOk) {
      this.opts.log.warn({ code: azpOk ? 'nonce_mismatch' : 'azp_mismatch' }, `${label}: ID token refused`);
      throw refused;
    }
    const name = payload[claim];
    if (typeof name !== 'string' || name.trim() === '' || name.length > 256) {
      this.opts.log.warn({ claim }, `${label}: the ID token does not carry the name claim`);
      throw new SignInFailure(403, `Your sign-in does not name you (the claim "${claim}" is missing or empty), so you cannot sign in here.`);
    }
    const raw = groupsClaim === undefined ? [] : payload[groupsClaim];
    const groups = (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [])
      .filter((g): g is string => typeof g === 'string' && g !== '' && g.length <= 256)
      .slice(0, MAX_GROUPS);
    return { name, groups };
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
