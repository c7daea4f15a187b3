/** What every SQLite table store shares: prepared statements cached by text, and the open check plus error mapping around each call. */
import type Database from 'better-sqlite3';
import { toStoreError } from '../errors.js';

export abstract class SqliteStatements {
  private readonly cache = new Map<string, Database.Statement>();

  /** `ensureOpen` throws once the store is closed, so no call reaches a closed handle. */
  constructor(
    private readonly db: Database.Database,
    protected readonly ensureOpen: () => void,
  ) {}

  protected stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (s === undefined) this.cache.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Runs `body` in one IMMEDIATE transaction (the write lock first): its statements commit together or not at all. */
  protected transaction<T>(body: () => T): T {
    return this.db.transaction(body).immediate();
  }

  /** Runs `body` after the open check, turning a database failure into a StoreError (store_unavailable). */
  protected guard<T>(what: string, body: () => T): T {
    this.ensureOpen();
    try {
      return body();
    } catch (err) {
      throw toStoreError(err, 'store_unavailable', `${what} failed`);
    }
  }
}
