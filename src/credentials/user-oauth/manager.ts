/**
 * Delegated user access to OAuth-protected upstreams (docs/user-oauth.md). Each person connects their own
 * account to an upstream once, in their browser (authorization code + PKCE S256 + `resource`); the tokens
 * are kept in the vault per (user, upstream, tenant) and used only for that person's calls, refreshed before
 * they expire (a rotated refresh token replaces the old one), revoked at the authorization server and deleted
 * when the person disconnects or is revoked. The agent never sees a code or a token: a call for an upstream
 * its user has not connected is answered with a link (ConnectRequired), never with anyone else's credential.
 *
 * A flow in progress (`state` -> user, upstream, PKCE verifier) lives in this process for 10 minutes and is
 * bound to the signed-in user who started it: a callback carrying it is accepted only from that user's
 * session, once. Audit events name the user, the upstream and the connection id, never a token.
 */
import { randomBytes } from 'node:crypto';
import { exchangeAuthorization, refreshAuthorization, startAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { uuidv7 } from '../../core/ids.js';
import type { HttpServerConfig, ServerConfig } from '../../config/schema.js';
import { serverWith, upstreamsWith } from './configured.js';
import { JsonRpcCode, WardenError } from '../../protocol/errors.js';
import type { Logger } from '../../telemetry/log.js';
import type { InjectedSecret } from '../redactor.js';
import type { Vault } from '../vault.js';
import { TokenVault, type StoredTokens } from './token-vault.js';
import { boundedFetch, discoverUpstream, revokeAt, type OAuthUpstream } from './upstream-client.js';
import type { SubjectSigner } from '../leases/manager.js';
import { tokensViaIdJag } from './id-jag.js';

/** Who a connection acts for: the user, and (for the enterprise variant's subject token) the agent and task. */
export interface Owner {
  user: string | null;
  agent: string;
  tenant: string | null;
  task: string | null;
}

/** The OAuth steps, and those of self-service keys (user-keys.ts). */
export type OAuthEventKind = 'connect' | 'refresh' | 'use' | 'revoke' | 'failure' | 'key-set' | 'key-removed' | 'key-expiring';

/** One audit-worthy step: who, which upstream, which connection (an id, never a token), and what failed. */
export interface OAuthEvent {
  kind: OAuthEventKind;
  user: string;
  upstream: string;
  tenant: string | null;
  connectionId: string | null;
  errorCode?: string;
}

export interface UserOAuthOptions {
  vault: Vault;
  /** The enabled upstreams (read on each use: a reload may change them). */
  servers: () => ReadonlyMap<string, ServerConfig>;
  /** The gateway's public URL: the connect links and the redirect URI. */
  publicUrl: () => string;
  log: Logger;
  onEvent?: (e: OAuthEvent) => Promise<void>;
  /** Each token value handed to an upstream: redacted from everything upstreams send. */
  redact?: (secrets: InjectedSecret[]) => void;
  /** Signs the subject token of the enterprise variant (ID-JAG); its client secret is read from `env`. */
  signSubject?: SubjectSigner;
  env?: NodeJS.ProcessEnv;
  /** False for a revoked user: they cannot connect (their calls are refused before any upstream anyway). */
  allowed?: (user: string) => boolean;
  now?: () => number;
}

/** Where the Connections page lives: under the approval page's path, so it shares its sign-in. */
export const CONNECTIONS_PATH = '/approvals/connections';
export const connectionsUrl = (publicUrl: string) => new URL(CONNECTIONS_PATH, publicUrl).href;
export const connectUrl = (publicUrl: string, upstream: string) => new URL(`${CONNECTIONS_PATH}/${encodeURIComponent(upstream)}/connect`, publicUrl).href;
export const oauthCallbackUrl = (publicUrl: string) => new URL(`${CONNECTIONS_PATH}/callback`, publicUrl).href;

const FLOW_MS = 10 * 60_000;
const MAX_FLOWS = 10_000;
/** Decrypted tokens are kept this long in memory, so each upstream request does not read the store. */
const CACHE_MS = 5_000;

/** A refusal on the Connections page: a status and a message for the person (never a code or a token). */
export class ConnectFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

interface Flow {
  user: string;
  upstream: string;
  verifier: string;
  expiresAt: number;
}

const oauthOf = (server: ServerConfig | undefined) => (server !== undefined && 'url' in server ? server.auth?.oauth : undefined);

export class UserOAuth {
  private readonly tokens: TokenVault;
  private readonly clients = new Map<string, Promise<OAuthUpstream>>();
  private readonly flows = new Map<string, Flow>();
  private readonly cache = new Map<string, { tokens: StoredTokens; until: number }>();
  private readonly refreshing = new Map<string, Promise<StoredTokens>>();

  constructor(private readonly opts: UserOAuthOptions) {
    this.tokens = new TokenVault(opts.vault);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The upstreams that take per-user OAuth, in config order. */
  upstreams(): string[] {
    return upstreamsWith(this.opts.servers(), 'oauth');
  }

  private server(upstream: string): HttpServerConfig {
    const s = serverWith(this.opts.servers(), upstream, 'oauth');
    if (s === undefined) throw new ConnectFailure(404, 'unknown_upstream', `There is no upstream "${upstream}" to connect.`);
    return s;
  }

  private scope(upstream: string) {
    return { upstream, tenant: this.server(upstream).tenant ?? null };
  }

  /** Discovery and registration for an upstream, once; a failure is forgotten so the next try runs again. */
  private client(upstream: string): Promise<OAuthUpstream> {
    let c = this.clients.get(upstream);
    if (c === undefined) {
      const s = this.server(upstream);
      c = discoverUpstream(upstream, s, s.auth!.oauth!, oauthCallbackUrl(this.opts.publicUrl()), this.opts.vault);
      c.catch(() => this.clients.delete(upstream));
      this.clients.set(upstream, c);
    }
    return c;
  }

  /** The error a call gets when its user has not connected `upstream`: the link, nothing else. */
  connectRequired(upstream: string, user: string | null): WardenError {
    const url = connectUrl(this.opts.publicUrl(), upstream);
    const who = user === null ? 'This call has no user, and' : `${user} has not connected their account to upstream "${upstream}":`;
    const message = user === null ? `${who} upstream "${upstream}" acts only with a person's own account` : `${who} open ${url} to connect it, then try again`;
    return new WardenError('connect_required', message, JsonRpcCode.ConnectRequired, 200, { upstream, url });
  }

  private emit(e: OAuthEvent): void {
    void this.opts.onEvent?.(e).catch((err: unknown) => this.opts.log.error({ err, upstream: e.upstream }, 'could not record an upstream OAuth event'));
  }

  /**
   * What the connection of `user` to `upstream` is opened with: a header source read for every upstream
   * request (the token refreshed when due), and the connection id for the audit. Throws ConnectRequired.
   */
  async prepare(upstream: string, server: ServerConfig, owner: Owner | null): Promise<{ server: ServerConfig; connectionId: string }> {
    if (oauthOf(server) === undefined) return { server, connectionId: '' };
    const user = owner?.user ?? null;
    if (user === null || owner === null) throw this.connectRequired(upstream, null);
    const t = await this.current(upstream, user, owner);
    const connectionId = this.connectionId(t);
    this.emit({ kind: 'use', user, upstream, tenant: this.scope(upstream).tenant, connectionId });
    const requestHeaders = async () => ({ authorization: `Bearer ${(await this.current(upstream, user, owner)).accessToken}` });
    return { server: Object.assign({ ...server }, { requestHeaders }), connectionId };
  }

  /** The id a connection is audited by (random, made when the person connected): never derived from a token. */
  private connectionId(t: StoredTokens): string {
    return `oauth:${t.upstream}:${t.connectionId}`;
  }

  /** The user's tokens, refreshed first when they are about to expire. Throws ConnectRequired when there are none. */
  private async current(upstream: string, user: string, owner?: Owner): Promise<StoredTokens> {
    const key = `${user}\0${upstream}`;
    const cached = this.cache.get(key);
    let t = cached !== undefined && cached.until > this.now() ? cached.tokens : await this.tokens.get(user, this.scope(upstream));
    const cfg = this.server(upstream).auth!.oauth!;
    // One refresh (or enterprise exchange) at a time per user and upstream.
    const once = (run: () => Promise<StoredTokens>): Promise<StoredTokens> => {
      let r = this.refreshing.get(key);
      if (r === undefined) {
        r = run().finally(() => this.refreshing.delete(key));
        this.refreshing.set(key, r);
      }
      return r;
    };
    if (t === undefined) {
      this.cache.delete(key);
      // The enterprise variant needs no browser step: the identity provider vouches for the user.
      if (cfg.idJag === undefined || owner === undefined) throw this.connectRequired(upstream, user);
      t = await once(() => this.enterprise(upstream, owner, 'connect'));
    }
    const margin = cfg.refreshBeforeSeconds * 1000;
    if (t.expiresAt !== undefined && t.expiresAt - margin <= this.now()) {
      const stale = t;
      t = await once(() => (stale.refreshToken === undefined && cfg.idJag !== undefined && owner !== undefined ? this.enterprise(upstream, owner, 'refresh') : this.refresh(upstream, stale)));
    }
    this.cache.set(key, { tokens: t, until: this.now() + CACHE_MS });
    this.opts.redact?.([{ name: `oauth:${upstream}`, value: t.accessToken }, ...(t.refreshToken ? [{ name: `oauth:${upstream}`, value: t.refreshToken }] : [])]);
    return t;
  }

  private async refresh(upstream: string, t: StoredTokens): Promise<StoredTokens> {
    const scope = this.scope(upstream);
    const base = { user: t.user, upstream, tenant: scope.tenant, connectionId: this.connectionId(t) };
    if (t.refreshToken === undefined) {
      // Nothing to refresh with: the person connects again.
      await this.tokens.remove(t.user, scope);
      this.emit({ ...base, kind: 'failure', errorCode: 'token_expired' });
      throw this.connectRequired(upstream, t.user);
    }
    const o = await this.client(upstream);
    let fresh: OAuthTokens;
    try {
      fresh = await refreshAuthorization(o.issuer, { metadata: o.metadata, clientInformation: o.client, refreshToken: t.refreshToken, resource: new URL(o.resource), fetchFn: boundedFetch });
    } catch (err) {
      const code = (err as { errorCode?: string }).errorCode;
      this.emit({ ...base, kind: 'failure', errorCode: code === 'invalid_grant' ? 'refresh_refused' : 'refresh_failed' });
      if (code === 'invalid_grant') {
        // The grant is gone at the server (revoked, expired): so is the connection.
        await this.tokens.remove(t.user, scope);
        throw this.connectRequired(upstream, t.user);
      }
      this.opts.log.warn({ upstream, user: t.user, error: code ?? 'unreachable' }, 'upstream OAuth token could not be refreshed');
      throw new WardenError('user_credential_unavailable', `The token for upstream "${upstream}" could not be refreshed; try again shortly`, JsonRpcCode.UserCredentialUnavailable);
    }
    const next = this.stored(t.user, upstream, o, fresh, t.connectedAt, t.connectionId, t.refreshToken);
    await this.tokens.put(scope, next);
    this.emit({ ...base, kind: 'refresh' });
    return next;
  }

  /** Tokens through the identity provider's ID-JAG (id-jag.ts), stored like a browser connection's. */
  private async enterprise(upstream: string, owner: Owner, kind: 'connect' | 'refresh'): Promise<StoredTokens> {
    const user = owner.user!;
    const cfg = this.server(upstream).auth!.oauth!.idJag!;
    const scope = this.scope(upstream);
    const unavailable = (why: string) => new WardenError('user_credential_unavailable', `The token for upstream "${upstream}" could not be obtained from the identity provider: ${why}`, JsonRpcCode.UserCredentialUnavailable);
    const secret = (this.opts.env ?? process.env)[cfg.clientSecretEnv];
    if (!secret || !this.opts.signSubject) throw unavailable(`its client secret (${cfg.clientSecretEnv}) or the gateway's token service is missing`);
    this.assertAllowed(user);
    const o = await this.client(upstream).catch(() => {
      throw unavailable('the upstream or its authorization server cannot be used right now');
    });
    const subject = await this.opts.signSubject({ user, agent: owner.agent, tenant: owner.tenant, task: owner.task }, cfg.audience ?? new URL(cfg.tokenUrl).origin, new Date(this.now() + 300_000));
    let tokens: OAuthTokens;
    try {
      tokens = await tokensViaIdJag(o, cfg, subject, secret);
    } catch (err) {
      const e = err as { step?: string; errorCode?: string };
      this.emit({ kind: 'failure', user, upstream, tenant: scope.tenant, connectionId: null, errorCode: `id_jag_${e.step ?? 'failed'}` });
      throw unavailable((err as Error).message);
    }
    const stored = this.stored(user, upstream, o, tokens, this.now(), uuidv7(this.now()));
    await this.tokens.put(scope, stored);
    this.emit({ kind, user, upstream, tenant: scope.tenant, connectionId: this.connectionId(stored) });
    return stored;
  }

  private stored(user: string, upstream: string, o: OAuthUpstream, tokens: OAuthTokens, connectedAt: number, connectionId: string, previousRefresh?: string): StoredTokens {
    if (tokens.token_type.toLowerCase() !== 'bearer') throw new Error('the authorization server issued a token that is not a bearer token');
    const refreshToken = tokens.refresh_token ?? previousRefresh;
    return {
      user,
      upstream,
      accessToken: tokens.access_token,
      ...(refreshToken !== undefined ? { refreshToken } : {}),
      ...(tokens.expires_in !== undefined ? { expiresAt: this.now() + tokens.expires_in * 1000 } : {}),
      ...(tokens.scope !== undefined ? { scope: tokens.scope } : {}),
      issuer: o.issuer,
      clientId: o.client.client_id,
      connectedAt,
      connectionId,
    };
  }

  /** Starts connecting `user`'s account to `upstream`: the authorization URL to send their browser to. */
  async begin(upstream: string, user: string): Promise<string> {
    this.assertAllowed(user);
    const o = await this.client(upstream).catch((err: unknown) => {
      this.opts.log.warn({ upstream, reason: (err as Error).message }, 'upstream OAuth discovery failed');
      throw new ConnectFailure(502, 'discovery_failed', `Upstream "${upstream}" or its authorization server cannot be used right now. Try again in a moment.`);
    });
    const state = randomBytes(24).toString('base64url');
    const { authorizationUrl, codeVerifier } = await startAuthorization(o.issuer, {
      metadata: o.metadata,
      clientInformation: o.client,
      redirectUrl: oauthCallbackUrl(this.opts.publicUrl()),
      state,
      resource: new URL(o.resource),
      ...(o.scope ? { scope: o.scope } : {}),
    });
    const now = this.now();
    for (const [s, f] of this.flows) if (f.expiresAt <= now) this.flows.delete(s);
    if (this.flows.size >= MAX_FLOWS) throw new ConnectFailure(503, 'busy', 'Too many connections are being made at once. Try again in a moment.');
    this.flows.set(state, { user, upstream, verifier: codeVerifier, expiresAt: now + FLOW_MS });
    return authorizationUrl.href;
  }

  private assertAllowed(user: string): void {
    if (this.opts.allowed && !this.opts.allowed(user)) throw new ConnectFailure(403, 'revoked', 'Your access to this gateway is revoked: you cannot connect accounts.');
  }

  /** Finishes a flow: `user` is who is signed in now; the flow must be theirs. Returns the upstream connected. */
  async finish(user: string, state: string, code: string): Promise<string> {
    const flow = this.flows.get(state);
    if (flow === undefined || flow.expiresAt <= this.now()) throw new ConnectFailure(400, 'invalid_state', 'This connection attempt is not valid: it expired, was used, or was not started here. Start again from the Connections page.');
    if (flow.user !== user) {
      // Someone else's flow: refused, and left for its owner.
      this.emit({ kind: 'failure', user, upstream: flow.upstream, tenant: null, connectionId: null, errorCode: 'state_of_another_user' });
      throw new ConnectFailure(403, 'state_of_another_user', 'This connection attempt was started by someone else. Start your own from the Connections page.');
    }
    this.flows.delete(state);
    this.assertAllowed(user);
    const { upstream } = flow;
    const scope = this.scope(upstream);
    const o = await this.client(upstream);
    let tokens: OAuthTokens;
    try {
      tokens = await exchangeAuthorization(o.issuer, { metadata: o.metadata, clientInformation: o.client, authorizationCode: code, codeVerifier: flow.verifier, redirectUri: oauthCallbackUrl(this.opts.publicUrl()), resource: new URL(o.resource), fetchFn: boundedFetch });
    } catch (err) {
      const error = (err as { errorCode?: string }).errorCode ?? 'unreachable';
      this.opts.log.warn({ upstream, user, error }, 'upstream OAuth code exchange failed');
      this.emit({ kind: 'failure', user, upstream, tenant: scope.tenant, connectionId: null, errorCode: 'code_exchange_failed' });
      throw new ConnectFailure(502, 'code_exchange_failed', `The authorization server of "${upstream}" did not accept the connection. Try again.`);
    }
    const stored = this.stored(user, upstream, o, tokens, this.now(), uuidv7(this.now()));
    await this.tokens.put(scope, stored);
    this.cache.delete(`${user}\0${upstream}`);
    this.emit({ kind: 'connect', user, upstream, tenant: scope.tenant, connectionId: this.connectionId(stored) });
    return upstream;
  }

  /** Revokes `user`'s tokens for `upstream` at the server (RFC 7009, where offered) and deletes them. False if none. */
  async disconnect(upstream: string, user: string): Promise<boolean> {
    const scope = this.scope(upstream);
    const t = await this.tokens.get(user, scope);
    this.cache.delete(`${user}\0${upstream}`);
    if (t === undefined) return false;
    const base = { user, upstream, tenant: scope.tenant, connectionId: this.connectionId(t) };
    try {
      const o = await this.client(upstream);
      // The refresh token first: revoking it ends the grant, and with it (at most servers) its access tokens.
      if (t.refreshToken) await revokeAt(o, t.refreshToken, 'refresh_token');
      await revokeAt(o, t.accessToken, 'access_token');
    } catch (err) {
      // Deleted here anyway: the access token lapses at its expiry; the failure is audited.
      this.opts.log.warn({ upstream, user, reason: (err as Error).message }, 'upstream token revocation failed');
      this.emit({ ...base, kind: 'failure', errorCode: 'revocation_failed' });
    }
    await this.tokens.remove(user, scope);
    this.emit({ ...base, kind: 'revoke' });
    return true;
  }

  /** Disconnects `user` from every upstream (a revoked or offboarded user). Returns the upstreams disconnected. */
  async disconnectAll(user: string): Promise<string[]> {
    const known = new Set(this.upstreams());
    const done: string[] = [];
    for (const upstream of await this.tokens.upstreamsOf(user)) {
      if (known.has(upstream) && (await this.disconnect(upstream, user))) done.push(upstream);
    }
    return done;
  }

  /** For the Connections page: each OAuth upstream and whether `user` has connected it. */
  async status(user: string): Promise<Array<{ upstream: string; connected: boolean; connectedAt?: number; scope?: string }>> {
    return Promise.all(
      this.upstreams().map(async (upstream) => {
        const t = await this.tokens.get(user, this.scope(upstream));
        return t === undefined ? { upstream, connected: false } : { upstream, connected: true, connectedAt: t.connectedAt, ...(t.scope ? { scope: t.scope } : {}) };
      }),
    );
  }
}
