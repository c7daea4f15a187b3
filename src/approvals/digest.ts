/**
 * The digest an approval is bound to: who calls (agent, user, delegation chain), under which task, which
 * tool of which upstream, with which arguments (as forwarded, paths normalised). Any difference is another
 * call and needs its own approval.
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
  arguments: Record<string, unknown>;
}

export function callDigest(c: ApprovableCall): string {
  const bound = { agent: c.agent, user: c.user, tenant: c.tenant, chain: c.chain, task: c.task, upstream: c.upstream, tool: c.tool, arguments: c.arguments };
  return createHash('sha256').update(canonicalJson(bound)).digest('hex');
}
