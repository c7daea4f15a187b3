/**
 * RFC 8693 token exchange at /oauth/token. A subject token (a user's token from a trusted issuer, or a
 * gateway token) plus an actor token (the agent's own credential) gives a short-lived gateway token for
 * the actor acting for the subject. Authority only narrows: scopes are a subset of the subject's, the life
 * ends no later than the subject's, each delegation hop must be allowed by the receiving agent's
 * registration, the chain is bounded, and an actor assertion is single-use.
 */
import type { AgentConfig, TokenServiceConfig } from '../config/schema.js';
import type { ReplayStore } from '../store/types.js';
import type { Authenticator } from './authenticator.js';
import { AuthError } from './errors.js';
import { MAX_TOKEN_ANCESTORS, type GatewayTokens } from './gateway-tokens.js';
import type { Principal } from './principal.js';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ACCEPTED_TYPES = new Set([TYPE_ACCESS_TOKEN, TYPE_JWT]);

export type OAuthErrorCode = 'invalid_request' | 'invalid_grant' | 'invalid_scope' | 'invalid_target' | 'unauthorized_client' | 'unsupported_grant_type';

export class TokenExchangeError extends Error {
  constructor(readonly code: OAuthErrorCode, readonly description: string) {
    super(description);
  }
}

export interface ExchangeResult {
  access_token: string;
  issued_token_type: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

export interface TokenExchangeOptions {
  config: TokenServiceConfig;
  audience: string;
  authenticator: Authenticator;
  tokens: GatewayTokens;
  replay: ReplayStore;
  agents: Record<string, AgentConfig>;
  /** Starts a task for the new token (the `task_*` parameters); absent: those parameters are refused. */
  startTask?: StartTaskHook;
  /** Throws when a principal was revoked: a revoked token, agent, user or task mints nothing. */
  checkRevoked?: (p: Principal) => void | Promise<void>;
  now?: () => number;
}

/** What an exchange asks of a task: a purpose, whole servers, single tools, a lifetime in seconds. */
export interface TaskAsk {
  purpose: string;
  servers: string[];
  tools: string[];
  ttlSeconds: number;
}

/**
 * Starts a task for `who` (the principal the new token will carry) and returns its id and expiry (epoch
 * seconds). Throws an Error whose message says what was refused when nothing can be granted.
 */
export type StartTaskHook = (who: Principal, ask: TaskAsk) => Promise<{ id: string; expiresAt: number }>;

const fail = (code: OAuthErrorCode, description: string) => new TokenExchangeError(code, description);

export class TokenExchange {
  constructor(private readonly opts: TokenExchangeOptions) {}

  /** The `iss` of the tokens this service issues. */
  get issuer(): string {
    return this.opts.tokens.issuer;
  }

  /** Performs one exchange; `issued` describes the new token's principal, for the audit record. */
  async exchange(form: URLSearchParams): Promise<{ body: ExchangeResult; issued: Principal }> {
    const p = (name: string) => {
      if (form.getAll(name).length > 1) throw fail('invalid_request', `"${name}" is given more than once`);
      return form.get(name) ?? undefined;
    };
    const grant = p('grant_type');
    if (grant === undefined) throw fail('invalid_request', 'grant_type is required');
    if (grant !== GRANT_TOKEN_EXCHANGE) throw fail('unsupported_grant_type', 'Only token exchange (RFC 8693) is supported');
    const subjectToken = p('subject_token');
    const actorToken = p('actor_token');
    if (!subjectToken || !ACCEPTED_TYPES.has(p('subject_token_type') ?? '')) throw fail('invalid_request', 'subject_token and a supported subject_token_type are required');
    if (!actorToken || !ACCEPTED_TYPES.has(p('actor_token_type') ?? '')) throw fail('invalid_request', "actor_token (the agent's own credential) and a supported actor_token_type are required");
    const requestedType = p('requested_token_type');
    if (requestedType !== undefined && requestedType !== TYPE_ACCESS_TOKEN) throw fail('invalid_request', 'Only access tokens can be issued');
    for (const target of [p('resource'), p('audience')]) {
      if (target !== undefined && target !== this.opts.audience) throw fail('invalid_target', 'Tokens are issued only for this gateway');
    }

    const subject = await this.verify(subjectToken, 'subject');
    const actor = await this.verify(actorToken, 'actor');
    for (const [role, p] of [['subject', subject], ['actor', actor]] as const) {
      try {
        await this.opts.checkRevoked?.(p);
      } catch {
        throw fail('invalid_grant', `The ${role} token may not be used: it, its agent, user or task was revoked`);
      }
    }
    if (actor.method === 'gateway-token') throw fail('invalid_grant', "The actor token must be the agent's own credential, not a gateway token");
    await this.consumeActorAssertion(actor);

    // Each exchange adds its subject to the lineage a revocation is checked against: bounded.
    if ((subject.tokenAncestors?.length ?? 0) >= MAX_TOKEN_ANCESTORS) {
      throw fail('invalid_grant', `The subject token descends from ${MAX_TOKEN_ANCESTORS} exchanges already; start again from the user's own token`);
    }
    const chain = this.delegationChain(subject, actor);
    const tenant = this.tenantFor(subject, actor);
    const scopes = this.narrowScopes(subject, p('scope'));
    let expiresAt = this.lifetime(subject, p('expires_in'));
    let task = subject.task;
    const purpose = p('task_purpose');
    if (purpose !== undefined) {
      // A new task narrows a token to its grant; a token already bound to a task cannot start another.
      if (subject.task !== null) throw fail('invalid_request', 'The subject token already belongs to a task');
      if (this.opts.startTask === undefined) throw fail('invalid_request', 'Tasks are not available on this gateway');
      const list = (name: string) => (p(name) ?? '').split(' ').filter(Boolean);
      const ttlText = p('task_ttl');
      if (ttlText !== undefined && !/^\d{1,9}$/.test(ttlText)) throw fail('invalid_request', 'task_ttl must be a whole number of seconds');
      const ask = { purpose, servers: list('task_servers'), tools: list('task_tools'), ttlSeconds: ttlText === undefined ? expiresAt - this.nowSeconds() : Number(ttlText) };
      const who: Principal = { ...actor, user: subject.user, tenant, chain, scopes, task: null };
      try {
        const started = await this.opts.startTask(who, ask);
        task = started.id;
        expiresAt = Math.min(expiresAt, started.expiresAt);
      } catch (err) {
        throw fail('invalid_scope', `The task was not started: ${err instanceof Error ? err.message : 'refused'}`);
      }
    }
    const { token, record } = await this.opts.tokens.mint({
      user: subject.user,
      agent: actor.agent,
      tenant,
      chain,
      scopes,
      task,
      // Any subject token's id, a gateway's or an identity provider's: revoking it (a foreign one too) cuts this off.
      parentJti: subject.tokenId,
      expiresAt,
      agentIssuer: actor.issuer,
    });
    const body: ExchangeResult = { access_token: token, issued_token_type: TYPE_ACCESS_TOKEN, token_type: 'Bearer', expires_in: expiresAt - this.nowSeconds(), scope: scopes.join(' ') };
    const issued: Principal = { ...actor, user: subject.user, tenant, chain, scopes, task, method: 'gateway-token', issuer: record.agentIssuer, tokenId: record.jti, expiresAt };
    return { body, issued };
  }

  private nowSeconds(): number {
    return Math.floor((this.opts.now?.() ?? Date.now()) / 1000);
  }

  private async verify(token: string, role: 'subject' | 'actor'): Promise<Principal> {
    try {
      return await this.opts.authenticator.authenticate({ authorization: `Bearer ${token}` });
    } catch (err) {
      const why = err instanceof AuthError ? err.description : 'could not be verified';
      throw fail('invalid_grant', `The ${role} token is invalid: ${why}`);
    }
  }

  /** An actor assertion proves possession once: replaying it (even on another replica) is refused. */
  private async consumeActorAssertion(actor: Principal): Promise<void> {
    if (!actor.tokenId || actor.expiresAt === null) throw fail('invalid_grant', 'The actor token needs a jti and an exp so it can be used only once');
    const fresh = await this.opts.replay.claimOnce(`actor:${actor.issuer ?? actor.method}:${actor.tokenId}`, new Date(actor.expiresAt * 1000).toISOString());
    if (!fresh) throw fail('invalid_grant', 'The actor token has already been used');
  }

  /** The new chain: unchanged when the same agent exchanges again, one hop longer when it delegates. */
  private delegationChain(subject: Principal, actor: Principal): string[] {
    // A user's own token starts a chain; only gateway-minted chains (trusted from the store) are extended.
    const delegating = subject.method === 'gateway-token' || (subject.user === null && subject.agent !== 'anonymous') ? subject.agent : null;
    if (delegating === null || delegating === actor.agent) return subject.method === 'gateway-token' ? subject.chain : [];
    const allowed = this.opts.agents[actor.agent]?.delegatesFrom ?? [];
    if (!allowed.includes(delegating) && !allowed.includes('*')) {
      throw fail('unauthorized_client', `Agent ${delegating} may not delegate to ${actor.agent}`);
    }
    const chain = [delegating, ...(subject.method === 'gateway-token' ? subject.chain : [])];
    if (chain.length > this.opts.config.maxDelegationDepth) throw fail('unauthorized_client', `Delegation deeper than ${this.opts.config.maxDelegationDepth} hops is not allowed`);
    if (chain.includes(actor.agent)) throw fail('unauthorized_client', 'A delegation chain may not loop back to an agent already in it');
    return chain;
  }

  private tenantFor(subject: Principal, actor: Principal): string | null {
    if (subject.tenant !== null && actor.tenant !== null && subject.tenant !== actor.tenant) throw fail('unauthorized_client', 'The agent belongs to another tenant');
    return subject.tenant ?? actor.tenant;
  }

  private narrowScopes(subject: Principal, requested: string | undefined): string[] {
    if (requested === undefined) return subject.scopes;
    const wanted = [...new Set(requested.split(' ').filter(Boolean))];
    const extra = wanted.filter((s) => !subject.scopes.includes(s));
    if (extra.length > 0) throw fail('invalid_scope', `The subject token does not hold: ${extra.join(' ')}`);
    return wanted;
  }

  private lifetime(subject: Principal, requested: string | undefined): number {
    const { defaultTtlSeconds, maxTtlSeconds } = this.opts.config;
    const now = this.nowSeconds();
    let ttl = defaultTtlSeconds;
    if (requested !== undefined) {
      if (!/^\d{1,9}$/.test(requested)) throw fail('invalid_request', 'expires_in must be a whole number of seconds');
      ttl = Number(requested);
      if (ttl > maxTtlSeconds) throw fail('invalid_request', `expires_in may not exceed ${maxTtlSeconds} seconds`);
      if (subject.expiresAt !== null && now + ttl > subject.expiresAt) throw fail('invalid_request', 'A token cannot outlive the subject token');
    }
    const end = Math.min(now + Math.min(ttl, maxTtlSeconds), subject.expiresAt ?? Infinity);
    if (end <= now) throw fail('invalid_grant', 'The subject token has expired');
    return end;
  }
}
