/**
 * Authenticates every request (a session is never authentication): finds the bearer token, picks the
 * verifier by the token's claimed issuer (then verifies with that issuer's keys only), builds the
 * Principal, and checks that every agent id the token names belongs to its issuer (agent-issuers.ts), the
 * tenant against the agent's registration, and the required scopes.
 */
import { decodeJwt, type JWTPayload } from 'jose';
import { trustDomainIssuer } from '../config/agent-issuers.js';
import type { AgentConfig, OAuthAuthConfig } from '../config/schema.js';
import { AgentIssuers } from './agent-issuers.js';
import { extractBearer } from './bearer.js';
import { actChain, scopesOf, stringClaim } from './claims.js';
import { AuthError, invalidToken } from './errors.js';
import { IssuerVerifier } from './issuer-verifier.js';
import { ANONYMOUS, type Principal } from './principal.js';
import { SpiffeVerifier, spiffeIdFromSan } from './spiffe.js';
import { TokenCache } from './token-cache.js';

export interface RequestCredentials {
  authorization?: string;
  url?: string;
  /** The verified client certificate's subjectAltName, on an mTLS listener. */
  peerSubjectAltName?: string;
}

/** Verifies tokens the gateway's own token service minted. */
export interface LocalTokenVerifier {
  readonly issuer: string;
  verify(token: string): Promise<Principal>;
}

export interface Authenticator {
  /** False in development mode, where every request is the anonymous principal. */
  readonly enabled: boolean;
  authenticate(c: RequestCredentials): Promise<Principal>;
  readonly cache: TokenCache;
}

export class NoAuthenticator implements Authenticator {
  readonly enabled = false;
  readonly cache = new TokenCache(1);
  authenticate(): Promise<Principal> {
    return Promise.resolve(ANONYMOUS);
  }
}

export interface OAuthAuthenticatorOptions {
  config: OAuthAuthConfig;
  /** Our resource URI: the audience every token must carry. */
  audience: string;
  agents: Record<string, AgentConfig>;
  baseDir: string;
  local?: LocalTokenVerifier;
  now?: () => number;
}

export class OAuthAuthenticator implements Authenticator {
  readonly enabled = true;
  readonly cache = new TokenCache();
  private readonly issuers: Map<string, IssuerVerifier>;
  private readonly spiffe?: SpiffeVerifier;
  private readonly now: () => number;
  /** Which issuer each agent id belongs to. */
  readonly homes: AgentIssuers;

  constructor(private readonly opts: OAuthAuthenticatorOptions) {
    const { config, audience, baseDir } = opts;
    this.homes = new AgentIssuers({ auth: config, agents: opts.agents });
    this.issuers = new Map(config.issuers.map((i) => [i.issuer, new IssuerVerifier(i, audience, config.clockSkewSeconds, baseDir)]));
    if (config.spiffe) this.spiffe = new SpiffeVerifier(config.spiffe.trustDomain, config.spiffe.bundleFile, baseDir, audience, config.clockSkewSeconds);
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  }

  async authenticate(c: RequestCredentials): Promise<Principal> {
    const { config } = this.opts;
    let token: string;
    try {
      token = extractBearer(c.authorization, c.url, config.maxTokenBytes);
    } catch (err) {
      // Without a token, a verified client certificate (mTLS) is the credential.
      if (err instanceof AuthError && err.missing && c.peerSubjectAltName !== undefined && this.spiffe) return this.fromCertificate(c.peerSubjectAltName);
      throw err;
    }
    const now = this.now();
    const cached = this.cache.get(token, now, config.clockSkewSeconds);
    if (cached) return this.checkScopes(cached);
    const principal = await this.verify(token, now);
    this.cache.set(token, principal);
    return this.checkScopes(principal);
  }

  private async verify(token: string, now: number): Promise<Principal> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw invalidToken('The token is malformed');
    }
    const { local } = this.opts;
    if (local && unverified.iss === local.issuer) return local.verify(token);
    const issuer = typeof unverified.iss === 'string' ? this.issuers.get(unverified.iss) : undefined;
    if (issuer) {
      const { claims } = await issuer.verify(token, now);
      return this.fromClaims(claims, issuer.config.issuer, issuer.config.tenantClaim);
    }
    if (this.spiffe && typeof unverified.sub === 'string' && unverified.sub.startsWith('spiffe://')) {
      const svid = await this.spiffe.verify(token, now);
      const domain = trustDomainIssuer(this.spiffe.trustDomain);
      this.homes.check(domain, [['sub', svid.spiffeId]]);
      return this.withTenant({ ...ANONYMOUS, agent: svid.spiffeId, method: 'spiffe-jwt', issuer: domain, tokenId: svid.jti, expiresAt: svid.exp }, null);
    }
    throw invalidToken('The token issuer is not trusted');
  }

  /**
   * A foreign token: its current actor (act.sub, else the client) is the agent; prior actors are not trusted,
   * but none of the ids it names may belong to another issuer.
   */
  private fromClaims(claims: JWTPayload, issuer: string, tenantClaim: string): Principal {
    // RFC 7519 makes `sub` a string; any other JSON would be read as "[object Object]" (one user for many tokens) or throw.
    const sub = stringClaim(claims, 'sub');
    if (sub === null) throw invalidToken('The token\'s "sub" claim must be a non-empty, well-formed string');
    const clientId = stringClaim(claims, 'client_id');
    const azp = stringClaim(claims, 'azp');
    const client = clientId ?? azp;
    const actors = actChain(claims);
    const actor = actors[0];
    const agent = actor ?? client ?? sub;
    this.homes.check(issuer, [['client_id', clientId], ['azp', azp], ['sub', sub], ...actors.map((a, i) => [i === 0 ? 'act.sub' : 'a nested act.sub', a] as const)]);
    return this.withTenant(
      {
        agent,
        user: sub !== agent && sub !== client ? sub : null,
        tenant: null,
        chain: [],
        task: null,
        method: 'oauth-jwt',
        issuer,
        scopes: scopesOf(claims),
        tokenId: stringClaim(claims, 'jti'),
        expiresAt: typeof claims.exp === 'number' ? claims.exp : null,
      },
      stringClaim(claims, tenantClaim),
    );
  }

  private fromCertificate(san: string): Principal {
    const agent = spiffeIdFromSan(san, this.spiffe!.trustDomain);
    const domain = trustDomainIssuer(this.spiffe!.trustDomain);
    this.homes.check(domain, [['the certificate URI SAN', agent]]);
    return this.withTenant({ ...ANONYMOUS, agent, method: 'mtls', issuer: domain }, null);
  }

  /** The tenant a token claims must agree with the agent's registration; a registered tenant fills a missing claim. */
  private withTenant(p: Principal, claimed: string | null): Principal {
    const registered = this.opts.agents[p.agent]?.tenant ?? null;
    if (claimed !== null && registered !== null && claimed !== registered) throw invalidToken("The token's tenant does not match the agent's registration");
    return { ...p, tenant: claimed ?? registered };
  }

  private checkScopes(p: Principal): Principal {
    const required = this.opts.config.requiredScopes;
    if (required.length === 0 || p.method === 'spiffe-jwt' || p.method === 'mtls') return p;
    const missing = required.filter((s) => !p.scopes.includes(s));
    if (missing.length > 0) throw new AuthError('insufficient_scope', `The token lacks the scope this resource requires: ${missing.join(' ')}`, false, required);
    return p;
  }
}
