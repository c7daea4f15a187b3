/**
 * Tasks on SQLite. Every write is one statement, so it is atomic; SQLite serializes writers on the file, so
 * `finish` (an UPDATE guarded by state = 'active') lets exactly one of several concurrent callers win.
 */
import { SqliteStatements } from './statements.js';
import { StoreError } from '../errors.js';
import { checkFinish, TASK_COLUMNS, taskFilterWhere, taskFromRow, taskListSql, taskToRow, type TaskRow } from '../task-rows.js';
import type { TaskFilter, TaskRecord, TaskStore } from '../types.js';

const q = (): string => '?';
const COLS = TASK_COLUMNS.join(', ');

// The conflict target is the primary key only: any other constraint failure still throws.
const INSERT = `INSERT INTO warden_tasks (${COLS}) VALUES (${TASK_COLUMNS.map((c) => '@' + c).join(', ')}) ON CONFLICT (id) DO NOTHING`;
const GET = `SELECT ${COLS} FROM warden_tasks WHERE id = ?`;
const FINISH = `UPDATE warden_tasks SET state = ?, ended_at = ?, ended_by = ? WHERE id = ? AND state = 'active' RETURNING ${COLS}`;

export class SqliteTaskStore extends SqliteStatements implements TaskStore {
  async create(task: TaskRecord): Promise<void> {
    const row = taskToRow(task);
    const inserted = this.guard('task create', () => this.stmt(INSERT).run(row).changes === 1);
    if (!inserted) throw new StoreError('store_unavailable', `task create failed: task ${task.id} exists already`);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    return this.guard('task read', () => {
      const row = this.stmt(GET).get(id) as TaskRow | undefined;
      return row === undefined ? undefined : taskFromRow(row);
    });
  }

  async list(filter: TaskFilter = {}): Promise<TaskRecord[]> {
    const f = taskFilterWhere(filter, q);
    return this.guard('task list', () => (this.stmt(taskListSql(f.where, '?')).all(...f.values, f.limit) as TaskRow[]).map(taskFromRow));
  }

  async finish(id: string, state: 'ended' | 'revoked', at: string, by: string): Promise<TaskRecord | undefined> {
    checkFinish(id, state, at, by);
    return this.guard('task finish', () => {
      const row = this.stmt(FINISH).get(state, at, by, id) as TaskRow | undefined;
      return row === undefined ? undefined : taskFromRow(row);
    });
  }
}

/**
 * Migration 6. servers and tools are JSON text; times are canonical ISO text. The (state, id) and (agent, id)
 * indexes serve "active tasks, newest first" and "this agent's tasks, newest first" as one scan each.
 */
export const tasksMigration = {
  version: 6,
  name: 'tasks',
  sql: `
    CREATE TABLE warden_tasks (
      id           TEXT PRIMARY KEY,
      agent        TEXT NOT NULL,
      user_subject TEXT,
      tenant       TEXT,
      purpose      TEXT NOT NULL,
      servers      TEXT NOT NULL,
      tools        TEXT NOT NULL,
      created_at   TEXT NOT NULL,
      expires_at   TEXT NOT NULL,
      state        TEXT NOT NULL CHECK (state IN ('active', 'ended', 'revoked')),
      ended_at     TEXT,
      ended_by     TEXT
    );
    CREATE INDEX warden_tasks_state ON warden_tasks (state, id);
    CREATE INDEX warden_tasks_agent ON warden_tasks (agent, id);
  `,
} as const;
