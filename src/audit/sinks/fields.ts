/**
 * Reads the audit fields that are optional or still being added to AuditEvent (seq, task, decision,
 * approval, leases, upstream status) without depending on their exact declaration: each is read as
 * unknown and kept only if it has the expected type. Exports and traces use these, so an event from an
 * older row (without the field) renders and exports the same way, just with less detail.
 */
import type { AuditEvent } from '../event.js';

export interface EventExtras {
  seq?: number;
  task?: string;
  /** allow | deny | needs-approval (or whatever the decision step recorded). */
  effect?: string;
  policyIds: string[];
  reason?: string;
  policyVersion?: string;
  approvalId?: string;
  leaseIds: string[];
  upstreamStatus?: number;
}

type Loose = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);
const obj = (v: unknown): Loose | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : undefined);

/**
 * Accepted shapes: `task` or `taskId`; `decision` as a string (the effect) or an object
 * `{ effect | decision, policyIds, reason, policyVersion }`, or those keys at the top level;
 * `approvalId` (or `approval.id`); `leaseIds` (or `leases: [{ id }]`); `upstreamStatus`.
 */
export function eventExtras(event: AuditEvent): EventExtras {
  const e = event as unknown as Loose;
  const decision = obj(e.decision);
  const leases = Array.isArray(e.leases) ? e.leases.map((l) => str(obj(l)?.id) ?? str(l)).filter((x): x is string => x !== undefined) : [];
  return {
    seq: num(e.seq),
    task: str(e.task) ?? str(e.taskId),
    effect: str(e.decision) ?? str(decision?.effect) ?? str(decision?.decision) ?? str(e.effect),
    policyIds: strs(decision?.policyIds ?? e.policyIds),
    reason: str(decision?.reason) ?? str(e.reason),
    policyVersion: str(decision?.policyVersion) ?? str(e.policyVersion),
    approvalId: str(e.approvalId) ?? str(obj(e.approval)?.id),
    leaseIds: strs(e.leaseIds).length > 0 ? strs(e.leaseIds) : leases,
    upstreamStatus: num(e.upstreamStatus),
  };
}

/** The delegation as it happened: the user first, then the agents that delegated (farthest first), then the acting agent. */
export function delegationPath(e: AuditEvent): string[] {
  const agents = [...e.chain].reverse();
  if (e.agent) agents.push(e.agent);
  return e.user ? [e.user, ...agents] : agents;
}
