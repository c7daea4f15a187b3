/**
 * Why a list came back empty, in words an operator can act on. The policy's reason says what denied the
 * first hidden item; the hint says the usual cause in a config: tenants that do not match (the starter pack
 * shows only servers of the caller's own tenant), an agent without a tenant, a server without one.
 */
import type { ServerFacts, Subject } from '../policy/index.js';
import type { Logger } from '../telemetry/log.js';

export interface HiddenItem {
  /** The first item the caller could not see (a tool, prompt or resource name, or a server). */
  item: string;
  /** The policy's reason, or why it was outside the task's grant. */
  reason: string;
  /** The likely fix in the config, where one can be named. */
  hint?: string;
}

/** The config change that most often explains a hidden server: tenants that are missing or differ. */
export function tenantHint(subject: Subject, server: ServerFacts): string | undefined {
  const who = `agent ${subject.agent}`;
  if (subject.tenant === null && server.tenant === undefined) {
    return `neither ${who} nor server ${server.name} has a tenant: policies that match tenants (the starter pack does) show a server only to agents of its own tenant; set agents["${subject.agent}"].tenant and mcpServers.${server.name}.tenant to the same name`;
  }
  if (subject.tenant === null && server.tenant !== undefined) {
    return `${who} has no tenant and server ${server.name} belongs to tenant ${server.tenant}: policies that match tenants (the starter pack does) hide it; set agents["${subject.agent}"].tenant (or the token's tenant claim) to ${server.tenant}`;
  }
  if (subject.tenant !== null && server.tenant === undefined) {
    return `server ${server.name} has no tenant while ${who} is in tenant ${subject.tenant}: policies that match tenants (the starter pack does) hide it; set mcpServers.${server.name}.tenant: ${subject.tenant} if it is theirs`;
  }
  if (subject.tenant !== null && server.tenant !== undefined && subject.tenant !== server.tenant) {
    return `${who} is in tenant ${subject.tenant}, server ${server.name} in tenant ${server.tenant}`;
  }
  return undefined;
}

/** One line per principal and kind, the first time a list by it hides everything it was offered. */
export class EmptyListReporter {
  private readonly seen = new Set<string>();

  constructor(private readonly log: Logger, private readonly limit = 1000) {}

  report(subject: Subject, kind: string, total: number, hidden: HiddenItem | undefined): void {
    const key = JSON.stringify([subject.agent, subject.user, subject.tenant, subject.chain, kind]);
    if (this.seen.has(key) || this.seen.size >= this.limit) return;
    this.seen.add(key);
    this.log.warn(
      { agent: subject.agent, user: subject.user, tenant: subject.tenant, kind, shown: 0, total, firstHidden: hidden?.item, reason: hidden?.reason, hint: hidden?.hint },
      `${subject.agent}${subject.tenant ? ` (tenant ${subject.tenant})` : ' (no tenant)'} saw 0 of ${total} ${kind}: ${hidden ? `${hidden.item}: ${hidden.reason}` : 'all hidden'}${hidden?.hint ? `. ${hidden.hint}` : ''}`,
    );
  }
}
