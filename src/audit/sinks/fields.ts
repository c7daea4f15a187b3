/** The optional parts of an event that traces and exports show, with absent values normalised away. */
import type { AuditEvent } from '../event.js';

export interface EventExtras {
  seq?: number;
  task?: string;
  /** allow | deny | needs-approval */
  effect?: string;
  policyIds: string[];
  reason?: string;
  policyVersion?: string;
  approvalId?: string;
  leaseIds: string[];
  upstreamStatus?: string;
}

export function eventExtras(e: AuditEvent): EventExtras {
  return {
    seq: e.seq,
    task: e.task ?? undefined,
    effect: e.decision?.effect,
    policyIds: e.decision?.policyIds ?? [],
    reason: e.decision?.reason,
    policyVersion: e.decision?.policyVersion,
    approvalId: e.approvalId ?? undefined,
    leaseIds: e.leaseIds ?? [],
    upstreamStatus: e.upstreamStatus ?? undefined,
  };
}

/** The delegation as it happened: the user first, then the agents that delegated (farthest first), then the acting agent. */
export function delegationPath(e: AuditEvent): string[] {
  const agents = [...e.chain].reverse();
  if (e.agent) agents.push(e.agent);
  return e.user ? [e.user, ...agents] : agents;
}
