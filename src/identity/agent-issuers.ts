/**
 * An agent id belongs to one issuer (src/config/agent-issuers.ts says which). A token is refused when any
 * agent id it names (the agent it resolves to, `client_id`, `azp`, `sub`, or any `act.sub` of its chain)
 * belongs to an issuer other than the token's: a second trusted issuer cannot mint a registered agent, a
 * SPIFFE workload, or a delegation from one, by writing its name into a claim.
 */
import { agentHome, type AgentIssuerConfig } from '../config/agent-issuers.js';
import { invalidToken } from './errors.js';

export class AgentIssuers {
  constructor(private readonly cfg: AgentIssuerConfig) {}

  /** The issuer `id` belongs to, or null when any trusted issuer may name it. */
  home(id: string): string | null {
    return agentHome(this.cfg, id);
  }

  /**
   * Throws invalid_token unless every id in `named` (claim name -> id) belongs to `issuer` or to no issuer in
   * particular. The message names the claim, never its value (a token's text is not echoed into headers).
   */
  check(issuer: string, named: Iterable<readonly [claim: string, id: string | null | undefined]>): void {
    for (const [claim, id] of named) {
      if (id === null || id === undefined) continue;
      const home = this.home(id);
      if (home !== null && home !== issuer) throw invalidToken(`The agent named in ${claim} is registered to another issuer; this issuer's tokens cannot act as it`);
    }
  }
}
