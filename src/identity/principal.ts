/**
 * Who is asking. The agent (a workload: OAuth client or SPIFFE ID) is kept apart from the human it acts
 * for; the chain lists the agents that delegated, nearest first, and is trusted only when the gateway
 * minted it (RFC 8693 section 4.1: a foreign token's prior actors are informational only).
 */
export type AuthMethod = 'none' | 'oauth-jwt' | 'spiffe-jwt' | 'mtls' | 'gateway-token';

export interface Principal {
  /** The agent acting now: client_id/azp, or a SPIFFE ID. */
  agent: string;
  /** The human the agent acts for, when there is one. */
  user: string | null;
  tenant: string | null;
  /** Agents that delegated to `agent`, nearest first; empty for a direct call. */
  chain: string[];
  task: string | null;
  method: AuthMethod;
  /** The token's issuer (null for mTLS and development mode). */
  issuer: string | null;
  scopes: string[];
  /** The token's jti, for revocation and audit. */
  tokenId: string | null;
  /** Epoch seconds after which the credential is no longer valid. */
  expiresAt: number | null;
  /** Gateway tokens only: the jtis of the tokens it was exchanged from, oldest first; revoking one refuses it. */
  tokenAncestors?: readonly string[];
}

export const ANONYMOUS: Principal = Object.freeze({
  agent: 'anonymous',
  user: null,
  tenant: null,
  chain: [],
  task: null,
  method: 'none',
  issuer: null,
  scopes: [],
  tokenId: null,
  expiresAt: null,
}) as Principal;

/** A stable key for "the same principal", used to bind an MCP session to the one that opened it. */
export function principalKey(p: Principal): string {
  return JSON.stringify([p.method === 'gateway-token' ? 'gw' : p.issuer, p.agent, p.user, p.tenant, p.chain, p.task]);
}
