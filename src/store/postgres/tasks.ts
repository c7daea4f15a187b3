/**
 * Tasks on PostgreSQL, shared by every replica. Every write is one statement, so it is atomic without an
 * explicit transaction. `finish` is an UPDATE guarded by state = 'active': under READ COMMITTED a concurrent
 * second UPDATE waits for the first's row lock, re-checks the guard on the committed row and changes nothing,
 * so exactly one caller (on any replica) gets the record back.
 */
import { StoreError } from '../errors.js';
import { checkFinish, TASK_COLUMNS, taskFilterWhere, taskFromRow, taskListSql, taskToRow, type TaskRow } from '../task-rows.js';
import type { TaskFilter, TaskRecord, TaskStore } from '../types.js';
import type { Run } from './audit.js';

const p = (i: number): string => `$${i}`;
const COLS = TASK_COLUMNS.join(', ');

// Statement names carry the schema version: a name must never be reused for different text.
// The conflict target is the primary key only: any other constraint failure still throws.
const INSERT = {
  name: 'warden_tasks_insert_v6',
  text: `INSERT INTO warden_tasks (${COLS}) VALUES (${TASK_COLUMNS.map((_, i) => p(i + 1)).join(', ')}) ON CONFLICT (id) DO NOTHING RETURNING id`,
};
const GET = { name: 'warden_tasks_get_v6', text: `SELECT ${COLS} FROM warden_tasks WHERE id = $1` };
const FINISH = {
  name: 'warden_tasks_finish_v6',
  text: `UPDATE warden_tasks SET state = $1, ended_at = $2, ended_by = $3 WHERE id = $4 AND state = 'active' RETURNING ${COLS}`,
};

export class PostgresTaskStore implements TaskStore {
  /** `run` checks for close and turns failures into StoreErrors with the password scrubbed. */
  constructor(private readonly run: Run) {}

  async create(task: TaskRecord): Promise<void> {
    const row = taskToRow(task);
    const inserted = await this.run('task create', INSERT, TASK_COLUMNS.map((c) => row[c]));
    if (inserted.length !== 1) throw new StoreError('store_unavailable', `task create failed: task ${task.id} exists already`);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const rows = await this.run<TaskRow>('task read', GET, [id]);
    return rows[0] === undefined ? undefined : taskFromRow(rows[0]);
  }

  async list(filter: TaskFilter = {}): Promise<TaskRecord[]> {
    const f = taskFilterWhere(filter, p);
    const q = { name: `warden_tasks_list_${f.mask}_v6`, text: taskListSql(f.where, p(f.values.length + 1)) };
    return (await this.run<TaskRow>('task list', q, [...f.values, f.limit])).map(taskFromRow);
  }

  async finish(id: string, state: 'ended' | 'revoked', at: string, by: string): Promise<TaskRecord | undefined> {
    checkFinish(id, state, at, by);
    const rows = await this.run<TaskRow>('task finish', FINISH, [state, at, by, id]);
    return rows[0] === undefined ? undefined : taskFromRow(rows[0]);
  }
}

/**
 * Migration 6. servers and tools are JSON text, read back exactly as written. COLLATE "C": ids and ISO times
 * sort bytewise, as in SQLite, so "newest first" is id order whatever the database locale. The (state, id)
 * and (agent, id) indexes serve "active tasks, newest first" and "this agent's tasks, newest first".
 */
export const tasksMigration = {
  version: 6,
  name: 'tasks',
  sql: `
    CREATE TABLE warden_tasks (
      id           text COLLATE "C" PRIMARY KEY,
      agent        text NOT NULL,
      user_subject text,
      tenant       text,
      purpose      text NOT NULL,
      servers      text NOT NULL,
      tools        text NOT NULL,
      created_at   text COLLATE "C" NOT NULL,
      expires_at   text COLLATE "C" NOT NULL,
      state        text NOT NULL CHECK (state IN ('active', 'ended', 'revoked')),
      ended_at     text COLLATE "C",
      ended_by     text
    );
    CREATE INDEX warden_tasks_state ON warden_tasks (state, id);
    CREATE INDEX warden_tasks_agent ON warden_tasks (agent, id);
  `,
} as const;
