/**
 * Tokens the gateway mints and accepts: short-lived, audience-bound access tokens (RFC 9068 shape) with the
 * delegation chain in nested `act` claims. The chain is also recorded in the store under the token's jti,
 * and verification takes it from there: the store, not the token, is what the gateway trusts. The record
 * also keeps the issuer that vouched for the agent, which is the principal's `issuer` (what policies read).
 */
import { createLocalJWKSet, jwtVerify, type JWK, type JWTVerifyGetKey } from 'jose';
import { uuidv7 } from '../core/ids.js';
import type { IssuedTokenRecord, TokenStore } from '../store/types.js';
import type { LocalTokenVerifier } from './authenticator.js';
import { invalidToken } from './errors.js';
import { describeJoseError } from './jose-errors.js';
import type { Principal } from './principal.js';
import { signJwt, type SignerSource } from './signer.js';
import { AgentIssuers } from './agent-issuers.js';

/**
 * What a new token says; the record the store keeps adds its jti and times. `expiresAt` is in epoch seconds.
 * `agentIssuer` is who vouched for the agent (an exchange's actor token); default: the agent's own issuer.
 */
export type MintRequest = Omit<IssuedTokenRecord, 'jti' | 'issuedAt' | 'expiresAt' | 'agentIssuer' | 'ancestors'> & { expiresAt: number; agentIssuer?: string | null };

/**
 * Most exchanges a token may descend through (each adds its parent to the lineage a revocation is checked
 * against). Delegation depth bounds new agents in a chain; this bounds re-exchanges that add none.
 */
export const MAX_TOKEN_ANCESTORS = 32;

export interface GatewayTokensOptions {
  /** Which issuer each agent id belongs to; default: none is bound. */
  homes?: AgentIssuers;
  now?: () => number;
}

/** Nested `act` claims: the current actor outermost, each earlier one inside (RFC 8693 section 4.1). */
function actClaim(agent: string, chain: string[]): Record<string, unknown> {
  let act: Record<string, unknown> | undefined;
  for (const a of [...chain].reverse()) act = { sub: a, ...(act ? { act } : {}) };
  return { sub: agent, ...(act ? { act } : {}) };
}

export class GatewayTokens implements LocalTokenVerifier {
  private jwks?: { set: JWTVerifyGetKey; kids: Set<string>; loadedAt: number };
  private readonly now: () => number;
  private readonly homes: AgentIssuers;

  constructor(
    readonly issuer: string,
    private readonly audience: string,
    private readonly keys: SignerSource,
    private readonly store: TokenStore,
    private readonly skewSeconds: number,
    opts: GatewayTokensOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.homes = opts.homes ?? new AgentIssuers({ agents: {} });
  }

  async mint(req: MintRequest): Promise<{ token: string; record: IssuedTokenRecord }> {
    const key = await this.keys.current();
    const iat = Math.floor(this.now() / 1000);
    const ancestors = req.parentJti === null ? [] : [...(await this.lineage(req.parentJti)), req.parentJti];
    if (ancestors.length > MAX_TOKEN_ANCESTORS) throw invalidToken(`The token descends from more than ${MAX_TOKEN_ANCESTORS} exchanges; start again from the user's own token`);
    const record: IssuedTokenRecord = {
      jti: uuidv7(this.now()),
      user: req.user,
      agent: req.agent,
      tenant: req.tenant,
      chain: req.chain,
      scopes: req.scopes,
      task: req.task,
      parentJti: req.parentJti,
      issuedAt: new Date(iat * 1000).toISOString(),
      expiresAt: new Date(req.expiresAt * 1000).toISOString(),
      agentIssuer: req.agentIssuer ?? this.homes.home(req.agent),
      ancestors,
    };
    // Recorded before it is handed out: a token the store does not know is never accepted.
    await this.store.record(record);
    const token = await signJwt(key, { typ: 'at+jwt' }, {
      iss: this.issuer,
      sub: req.user ?? req.chain.at(-1) ?? req.agent,
      aud: this.audience,
      exp: req.expiresAt,
      iat,
      jti: record.jti,
      client_id: req.agent,
      scope: req.scopes.join(' '),
      act: actClaim(req.agent, req.chain),
      ...(req.tenant ? { tenant: req.tenant } : {}),
      ...(req.task ? { task: req.task } : {}),
    });
    return { token, record };
  }

  async verify(token: string): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, (h, t) => this.keyFor(h.kid).then((set) => set(h, t)), {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: ['ES256', 'EdDSA'],
        typ: 'at+jwt',
        clockTolerance: this.skewSeconds,
        requiredClaims: ['exp', 'jti', 'sub'],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      throw describeJoseError(err);
    }
    const record = await this.store.get(String(payload.jti));
    if (!record) throw invalidToken('The token is not known to this gateway');
    // The agent's issuer as recorded at minting; a registration that moved to another issuer since voids it.
    // A record without one (written before it was kept) is the gateway's word for its agent's home.
    const agentIssuer = record.agentIssuer ?? this.homes.home(record.agent) ?? this.issuer;
    this.homes.check(agentIssuer, [['the token record', record.agent]]);
    return {
      agent: record.agent,
      user: record.user,
      tenant: record.tenant,
      chain: record.chain,
      task: record.task,
      method: 'gateway-token',
      issuer: agentIssuer,
      scopes: record.scopes,
      tokenId: record.jti,
      expiresAt: Math.floor(Date.parse(record.expiresAt) / 1000),
      tokenAncestors: record.ancestors ?? (record.parentJti === null ? [] : [...(await this.lineage(record.parentJti)), record.parentJti]),
    };
  }

  /**
   * The tokens `jti` was derived from, oldest first: its recorded ancestors, or (a token minted before they
   * were recorded) found by following parent links, bounded. A parent no longer in the store ends the walk.
   */
  private async lineage(jti: string): Promise<string[]> {
    const out: string[] = [];
    let at: string | null = jti;
    while (at !== null && out.length <= MAX_TOKEN_ANCESTORS) {
      const r = await this.store.get(at);
      if (r === undefined) break;
      if (r.ancestors !== null) return [...r.ancestors, ...out];
      if (r.parentJti !== null) out.unshift(r.parentJti);
      at = r.parentJti;
    }
    return out;
  }

  /** The published keys; reloaded from the store when a kid is unknown (another replica rotated), at most once a second. */
  private async keyFor(kid: string | undefined): Promise<JWTVerifyGetKey> {
    const known = this.jwks && kid !== undefined && this.jwks.kids.has(kid);
    // Our own new key (just rotated) reloads at once; other unknown kids at most once a second.
    const ours = kid !== undefined && kid === this.keys.currentKid;
    if (!this.jwks || (!known && (ours || this.now() - this.jwks.loadedAt > 1000))) {
      const { keys } = await this.keys.publicJwks();
      this.jwks = { set: createLocalJWKSet({ keys: keys as JWK[] }), kids: new Set(keys.map((k) => String(k.kid))), loadedAt: this.now() };
    }
    return this.jwks.set;
  }
}
