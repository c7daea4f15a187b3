/**
 * Row mappings for tasks, shared by both backends. Servers and tools are JSON text; times are canonical ISO
 * text (see identity-rows.ts). A record no task service would write (an unknown state, an active task with
 * an end, a malformed time) is a caller bug and rejects with a RangeError before reaching the database.
 */
import { checkIso, parseJsonArray } from './identity-rows.js';
import type { TaskFilter, TaskRecord, TaskState } from './types.js';

export const TASK_COLUMNS = [
  'id',
  'agent',
  'user_subject',
  'tenant',
  'purpose',
  'servers',
  'tools',
  'created_at',
  'expires_at',
  'state',
  'ended_at',
  'ended_by',
] as const;

export type TaskRow = Record<(typeof TASK_COLUMNS)[number], string | null>;

const STATES: readonly TaskState[] = ['active', 'ended', 'revoked'];

/** The default and largest page a `list` returns. */
export const DEFAULT_TASK_LIMIT = 100;
export const MAX_TASK_LIMIT = 10_000;

const isNonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Throws a RangeError unless `state` is one of the three task states. */
export function checkState(state: unknown, field = 'state'): asserts state is TaskState {
  if (!STATES.includes(state as TaskState)) throw new RangeError(`task ${field} must be one of ${STATES.join(', ')}, got ${String(state)}`);
}

export function taskToRow(t: TaskRecord): TaskRow {
  if (!isNonEmpty(t.id)) throw new RangeError('a task needs an id');
  if (!isNonEmpty(t.agent)) throw new RangeError('a task needs an agent');
  if (t.user !== null && typeof t.user !== 'string') throw new RangeError('task user must be null or a string');
  if (t.tenant !== null && typeof t.tenant !== 'string') throw new RangeError('task tenant must be null or a string');
  if (typeof t.purpose !== 'string') throw new RangeError('task purpose must be a string');
  if (!isStringList(t.servers)) throw new RangeError('task servers must be a list of strings');
  if (!isStringList(t.tools)) throw new RangeError('task tools must be a list of strings');
  checkIso(t.createdAt, 'createdAt');
  checkIso(t.expiresAt, 'expiresAt');
  checkState(t.state);
  if (t.state === 'active') {
    if (t.endedAt !== null || t.endedBy !== null) throw new RangeError('an active task has no endedAt or endedBy');
  } else {
    checkIso(t.endedAt as string, 'endedAt');
    if (!isNonEmpty(t.endedBy)) throw new RangeError(`a task that is ${t.state} needs endedBy`);
  }
  return {
    id: t.id,
    agent: t.agent,
    user_subject: t.user,
    tenant: t.tenant,
    purpose: t.purpose,
    servers: JSON.stringify(t.servers),
    tools: JSON.stringify(t.tools),
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    state: t.state,
    ended_at: t.endedAt,
    ended_by: t.endedBy,
  };
}

export function taskFromRow(r: TaskRow): TaskRecord {
  return {
    id: r.id as string,
    agent: r.agent as string,
    user: r.user_subject,
    tenant: r.tenant,
    purpose: r.purpose as string,
    servers: parseJsonArray(r.servers),
    tools: parseJsonArray(r.tools),
    createdAt: r.created_at as string,
    expiresAt: r.expires_at as string,
    state: r.state as TaskState,
    endedAt: r.ended_at,
    endedBy: r.ended_by,
  };
}

/** Checks `finish`'s arguments: a final state, a canonical time and who finished it. */
export function checkFinish(id: string, state: string, at: string, by: string): void {
  if (typeof id !== 'string') throw new RangeError('task id must be a string');
  if (state !== 'ended' && state !== 'revoked') throw new RangeError(`a task can only be finished as ended or revoked, got ${String(state)}`);
  checkIso(at, 'at');
  if (!isNonEmpty(by)) throw new RangeError('finishing a task needs who finished it');
}

/**
 * The WHERE clause, values and limit of a list filter; `p(i)` names the i-th (1-based) parameter. The limit
 * is bound last, as parameter `values.length + 1`. `mask` names the clause's shape (for prepared statement names).
 */
export function taskFilterWhere(filter: TaskFilter, p: (i: number) => string): { where: string; values: string[]; limit: number; mask: string } {
  const parts: string[] = [];
  const values: string[] = [];
  let mask = '';
  if (filter.state !== undefined) {
    checkState(filter.state, 'filter state');
    values.push(filter.state);
    parts.push(`state = ${p(values.length)}`);
    mask += 's';
  }
  for (const [key, column] of [
    ['agent', 'agent'],
    ['tenant', 'tenant'],
  ] as const) {
    const v = filter[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new RangeError(`task filter ${key} must be a string`);
    values.push(v);
    parts.push(`${column} = ${p(values.length)}`);
    mask += key[0];
  }
  const limit = filter.limit ?? DEFAULT_TASK_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TASK_LIMIT) {
    throw new RangeError(`task list limit must be a whole number from 1 to ${MAX_TASK_LIMIT}`);
  }
  return { where: parts.length === 0 ? 'TRUE' : parts.join(' AND '), values, limit, mask: mask || 'all' };
}

/** Newest first: ids are UUIDv7, so id order is creation order. */
export function taskListSql(where: string, limitParam: string): string {
  return `SELECT ${TASK_COLUMNS.join(', ')} FROM warden_tasks WHERE ${where} ORDER BY id DESC LIMIT ${limitParam}`;
}
