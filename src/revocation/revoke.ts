/**
 * Recording a revocation, as `warden revoke` does. A task must exist (its record expires with the task,
 * which is refused after that anyway) and is also ended as `revoked`, so its tokens are refused by the task
 * check as well. A token id must name a token this gateway issued (its record expires with the token),
 * unless `foreign` says it came from another issuer (then it is kept until removed). Agents and users are
 * not checked against anything: an agent may be revoked before it ever calls.
 */
import { uuidv7 } from '../core/ids.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { IssuedTokenRecord, RevocationKind, RevocationRecord, RevocationStore, TaskRecord, TaskStore, TokenStore } from '../store/types.js';

export const REVOCATION_KIND_NAMES: readonly RevocationKind[] = ['task', 'agent', 'user', 'token'];

export interface RevokeDeps {
  revocations: RevocationStore;
  tasks: Pick<TaskStore, 'get' | 'list'>;
  tokens: Pick<TokenStore, 'get'>;
  /** Ends an active task as revoked (TaskService.end(id, by, 'revoked'), which also revokes its leases). */
  endTask: (id: string, by: string) => Promise<TaskRecord>;
  now?: () => number;
}

export interface RevokeRequest {
  kind: string;
  value: string;
  /** Who revokes (recorded). */
  by: string;
  reason?: string | null;
  /** A token id not issued by this gateway (a token from another issuer): recorded without an expiry. */
  foreign?: boolean;
}

export interface RevokeResult {
  record: RevocationRecord;
  /** False when it was revoked already (the stored record is returned unchanged). */
  created: boolean;
  /** The task (kind task) as it is now, and whether this call ended it. */
  task?: TaskRecord;
  taskEnded: boolean;
  /** For an agent or a user: their active tasks this call ended (as revoked: leases dropped, processes stopped). */
  endedTasks: string[];
  /** The issued token (kind token), when the gateway issued it. */
  token?: IssuedTokenRecord;
}

/** The largest `clockSkewSeconds` the config allows, in ms. */
const MAX_CLOCK_SKEW_MS = 300_000;

const invalid = (message: string) => new WardenError('invalid_params', message, JsonRpcCode.InvalidParams);

export function isRevocationKind(kind: string): kind is RevocationKind {
  return (REVOCATION_KIND_NAMES as readonly string[]).includes(kind);
}

export async function revoke(deps: RevokeDeps, req: RevokeRequest): Promise<RevokeResult> {
  const { kind } = req;
  if (!isRevocationKind(kind)) throw invalid(`cannot revoke a "${kind}": name one of ${REVOCATION_KIND_NAMES.join(', ')}`);
  const value = req.value.trim();
  if (value === '') throw invalid(`name the ${kind} to revoke`);
  let task: TaskRecord | undefined;
  let token: IssuedTokenRecord | undefined;
  let expiresAt: string | null = null;
  if (kind === 'task') {
    task = await deps.tasks.get(value);
    if (task === undefined) throw invalid(`no task ${value}`);
    expiresAt = task.expiresAt;
  } else if (kind === 'token') {
    token = await deps.tokens.get(value);
    if (token === undefined && !req.foreign) {
      throw invalid(`no token with id ${value} was issued by this gateway; for a token from another issuer, revoke it as foreign`);
    }
    // Kept past the token's exp by the longest clock skew a gateway may allow (auth.clockSkewSeconds, at most
    // 300): verification still accepts the token for that long, and so must the revocation refuse it.
    expiresAt = token ? new Date(Date.parse(token.expiresAt) + MAX_CLOCK_SKEW_MS).toISOString() : null;
  }
  const now = (deps.now ?? Date.now)();
  const { record, created } = await deps.revocations.add({
    id: uuidv7(now),
    kind,
    value,
    revokedAt: new Date(now).toISOString(),
    by: req.by,
    reason: req.reason ?? null,
    expiresAt,
  });
  // The revocation is stored first: should ending the task fail, the task is refused by every replica anyway.
  let taskEnded = false;
  if (task !== undefined && task.state === 'active') {
    try {
      task = await deps.endTask(task.id, req.by);
      taskEnded = true;
    } catch (err) {
      // Someone else ended it meanwhile: nothing left to do. Anything else is reported.
      const current = await deps.tasks.get(task.id);
      if (current === undefined || current.state === 'active') throw err;
      task = current;
    }
  }
  // Revoking an agent or a user also ends their active tasks, so their leases and task processes go too.
  const endedTasks: string[] = [];
  if (kind === 'agent' || kind === 'user') {
    const active = await deps.tasks.list({ state: 'active', ...(kind === 'agent' ? { agent: value } : {}), limit: 10_000 });
    for (const t of active.filter((x) => kind === 'agent' || x.user === value)) {
      try {
        await deps.endTask(t.id, req.by);
        endedTasks.push(t.id);
      } catch {
        // Ended meanwhile by someone else.
      }
    }
  }
  return { record, created, taskEnded, endedTasks, ...(task ? { task } : {}), ...(token ? { token } : {}) };
}

/** The audit fields of a revocation (`revoke/<kind>`), the same from the CLI and the admin API. */
export function revocationAuditFields(r: RevokeResult) {
  const { record, task, token } = r;
  const why = `${record.kind} ${record.value} revoked by ${record.by}${record.reason ? `: ${record.reason}` : ''}`;
  return {
    agent: record.kind === 'agent' ? record.value : (task?.agent ?? token?.agent ?? null),
    user: record.kind === 'user' ? record.value : (task?.user ?? token?.user ?? null),
    tenant: task?.tenant ?? token?.tenant ?? null,
    chain: token?.chain ?? [],
    task: record.kind === 'task' ? record.value : (token?.task ?? null),
    method: `revoke/${record.kind}`,
    upstream: null,
    target: record.value,
    decision: {
      effect: 'deny' as const,
      policyIds: [],
      reason: r.created
        ? `${why}${r.taskEnded ? '; task ended as revoked' : ''}${r.endedTasks.length > 0 ? `; tasks ended as revoked: ${r.endedTasks.join(', ')}` : ''}`
        : `${record.kind} ${record.value} was already revoked at ${record.revokedAt}`,
    },
    outcome: 'ok' as const,
    errorCode: null,
  };
}

export interface UndoRequest {
  kind: string;
  value: string;
  /** Who lifts it, and why (both recorded in the audit event; a reason is required). */
  by: string;
  reason: string;
}

/**
 * Lifts a revocation (`warden revoke undo`): from the next request on, every replica accepts the agent, user,
 * token or task again (the store appends the lift to the log replicas follow). A task ended by its revocation
 * stays ended: only its record of revocation goes. Throws invalid_params when nothing is revoked under the pair.
 */
export async function undoRevocation(revocations: Pick<RevocationStore, 'lift'>, req: UndoRequest, now: () => number = Date.now): Promise<RevocationRecord> {
  if (!isRevocationKind(req.kind)) throw invalid(`cannot undo a "${req.kind}" revocation: name one of ${REVOCATION_KIND_NAMES.join(', ')}`);
  const value = req.value.trim();
  if (value === '') throw invalid(`name the ${req.kind} whose revocation to undo`);
  if (req.reason.trim() === '') throw invalid('give the reason for lifting the revocation');
  const lifted = await revocations.lift(req.kind, value, new Date(now()).toISOString());
  if (lifted === undefined) throw invalid(`${req.kind} ${value} is not revoked`);
  return lifted;
}

/** The audit fields of a lifted revocation (`revoke/undo`), the revocation's subject as its target. */
export function undoAuditFields(record: RevocationRecord, req: UndoRequest) {
  return {
    agent: record.kind === 'agent' ? record.value : null,
    user: record.kind === 'user' ? record.value : null,
    tenant: null,
    chain: [],
    task: record.kind === 'task' ? record.value : null,
    method: 'revoke/undo',
    upstream: null,
    target: record.value,
    decision: { effect: 'allow' as const, policyIds: [], reason: `revocation of ${record.kind} ${record.value} lifted by ${req.by}: ${req.reason}` },
    outcome: 'ok' as const,
    errorCode: null,
  };
}
