/** Task, approval and lease store interfaces: the authority a task carries and what is bound to it. */

export type TaskState = 'active' | 'ended' | 'revoked';

/** A task: a unit of authority with a purpose, a grant (servers and tools, by exposed name) and an expiry. */
export interface TaskRecord {
  /** UUIDv7. */
  id: string;
  /** The agent the task belongs to, the human it acts for, and the tenant. */
  agent: string;
  user: string | null;
  tenant: string | null;
  purpose: string;
  /** What was granted (possibly narrower than what was asked). */
  servers: string[];
  tools: string[];
  /** ISO-8601. */
  createdAt: string;
  expiresAt: string;
  state: TaskState;
  /** ISO-8601 when the task stopped being active, and who stopped it (an agent id, `cli`, or `expired`). */
  endedAt: string | null;
  endedBy: string | null;
}

export interface TaskFilter {
  state?: TaskState;
  agent?: string;
  tenant?: string;
  /** Newest first; default 100. */
  limit?: number;
}

export interface TaskStore {
  /** Stores a new task; throws if the id exists. */
  create(task: TaskRecord): Promise<void>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** Newest first (by id, which sorts by creation time). */
  list(filter?: TaskFilter): Promise<TaskRecord[]>;
  /**
   * Moves an active task to `ended` or `revoked`, atomically (compare-and-set on state = 'active').
   * Returns the updated record, or undefined when the task does not exist or is no longer active.
   */
  finish(id: string, state: 'ended' | 'revoked', at: string, by: string): Promise<TaskRecord | undefined>;
}

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'consumed';

/**
 * A human approval for one call: bound to the call's digest (principal, task, tool, params), decided once,
 * and consumed by the one call it authorises. The record holds a redacted view of the arguments; the complete
 * call is kept apart, encrypted, only while the request is pending (ApprovalStore.sealedCall).
 */
export interface ApprovalRecord {
  /** UUIDv7. */
  id: string;
  /** sha256 hex over the canonical call (see src/approvals/digest.ts). */
  digest: string;
  agent: string;
  user: string | null;
  tenant: string | null;
  /** Delegating agents, nearest first. */
  chain: string[];
  task: string | null;
  upstream: string;
  /** The tool as clients name it. */
  tool: string;
  /** A redacted JSON view of the arguments, for the approver; null when not kept. */
  arguments: string | null;
  /** Why approval is needed (the policy's reason) and which policies said so. */
  reason: string;
  policyIds: string[];
  /** ISO-8601. The request (and an approval given for it) is void after expiresAt. */
  createdAt: string;
  expiresAt: string;
  state: ApprovalState;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionReason: string | null;
  consumedAt: string | null;
}

export interface ApprovalStore {
  /**
   * Stores a new pending request; throws if the id exists. `sealedCall` is the complete call as approvers see
   * it, encrypted under the master key (src/approvals/sealed-call.ts); it is kept only while the request is
   * pending and unexpired.
   */
  create(r: ApprovalRecord, sealedCall?: string | null): Promise<void>;
  /** The sealed call of a request still pending and unexpired at `at`; undefined once decided or expired, or when none was kept. */
  sealedCall(id: string, at: string): Promise<string | undefined>;
  /** Deletes the sealed calls of requests decided or expired at `at` (decide deletes its own at once); returns how many. */
  forgetCalls(at: string): Promise<number>;
  get(id: string): Promise<ApprovalRecord | undefined>;
  /** Newest first; `state` filters; default limit 100. */
  list(filter?: { state?: ApprovalState; limit?: number }): Promise<ApprovalRecord[]>;
  /**
   * pending -> approved | denied, atomically, only while unexpired at `at`. Returns the updated record, or
   * undefined when it does not exist, is no longer pending, or has expired.
   */
  decide(id: string, state: 'approved' | 'denied', by: string, reason: string | null, at: string): Promise<ApprovalRecord | undefined>;
  /**
   * approved -> consumed for one approved, unexpired record with this digest (the oldest), atomically: of
   * two concurrent calls exactly one gets it. Returns the consumed record or undefined.
   */
  consume(digest: string, at: string): Promise<ApprovalRecord | undefined>;
  /** The newest pending, unexpired request with this digest, so a retried call waits on the same request. */
  pendingFor(digest: string, at: string): Promise<ApprovalRecord | undefined>;
}

/** A credential issued for a task (a database role, ...): recorded by id and handle, never its value. */
export interface LeaseRecord {
  /** UUIDv7. */
  id: string;
  task: string;
  /** The configured lease (config `leases.<name>`). */
  name: string;
  provider: string;
  /** What the provider revokes by (a role name); never a secret. */
  handle: string;
  createdAt: string;
  expiresAt: string;
  state: 'active' | 'revoked';
  revokedAt: string | null;
}

export interface LeaseStore {
  create(r: LeaseRecord): Promise<void>;
  /** Active leases, oldest first; of one task when given. */
  active(task?: string): Promise<LeaseRecord[]>;
  /** active -> revoked (compare-and-set); false when it was not active. */
  revoke(id: string, at: string): Promise<boolean>;
}
