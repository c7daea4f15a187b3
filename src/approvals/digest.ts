/**
 * The digest an approval is bound to: who calls (agent, user, delegation chain), under which task, which
 * tool of which upstream, and the request exactly as it is forwarded: `params` is the tools/call params the
 * upstream receives (its own tool name, the arguments with paths normalised, `_meta`, and any other field).
 * The one part left out is `_meta.progressToken`: the gateway never forwards the client's token (it sends its
 * own, see GatewaySession.track), and it only routes progress notifications back. Any other difference is
 * another call and needs its own approval.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/index.js';

export interface ApprovableCall {
  agent: string;
  user: string | null;
  tenant: string | null;
  chain: readonly string[];
  task: string | null;
  upstream: string;
  /** As clients name it. */
  tool: string;
  /** The params forwarded to the upstream, without `_meta.progressToken` (see forwardedCall in src/gateway). */
  params: Record<string, unknown>;
}

export function callDigest(c: ApprovableCall): string {
  const bound = { v: 2, agent: c.agent, user: c.user, tenant: c.tenant, chain: c.chain, task: c.task, upstream: c.upstream, tool: c.tool, params: c.params };
  return createHash('sha256').update(canonicalJson(bound)).digest('hex');
}
