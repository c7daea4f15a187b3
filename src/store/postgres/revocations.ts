/**
 * Revocations on PostgreSQL, shared by every replica.
 *
 * seq order is commit order: `add` takes a SHARE ROW EXCLUSIVE lock on the table (it conflicts with itself
 * and with writes, not with reads) before the insert draws its seq, and holds it to commit. Without it, two
 * concurrent inserts could commit out of seq order and a reader that had already moved past the later seq
 * would never see the earlier one. Revocations are rare, so serializing their writers costs nothing.
 *
 * A new record is announced with pg_notify in the inserting transaction: PostgreSQL delivers it when (and
 * only if) the transaction commits. NOTIFY channels are per database, not per schema, so a listener also
 * hears other schemas' ids; it only uses them as a cue to read `since` in its own schema.
 */
import { StoreError } from '../errors.js';
import { checkIso } from '../identity-rows.js';
import {
  checkKind,
  checkSince,
  liftedRow,
  listWhere,
  REVOCATION_CHANNEL,
  REVOCATION_COLS,
  REVOCATION_INSERT_COLUMNS,
  revocationFromRow,
  revocationListSql,
  revocationsMigrationSql,
  revocationToRow,
  type RevocationRow,
} from '../revocation-rows.js';
import type { NewRevocation, RevocationFeed, RevocationFilter, RevocationKind, RevocationRecord, RevocationStore } from '../types.js';
import type { InTransaction, Run } from './audit.js';
import { openListenFeed } from './listen-feed.js';
import type { PostgresTarget } from './url.js';

const p = (i: number): string => `$${i}`;

// Statement names carry the schema version: a name must never be reused for different text.
const INSERT = `INSERT INTO warden_revocations (${REVOCATION_INSERT_COLUMNS.join(', ')}) VALUES (${REVOCATION_INSERT_COLUMNS.map((_, i) => p(i + 1)).join(', ')})
  ON CONFLICT (kind, value) DO NOTHING RETURNING ${REVOCATION_COLS}`;
const BY_SUBJECT = `SELECT ${REVOCATION_COLS} FROM warden_revocations WHERE kind = $1 AND value = $2`;
const SINCE = { name: 'warden_revocations_since_v8', text: `SELECT ${REVOCATION_COLS} FROM warden_revocations WHERE seq > $1 ORDER BY seq LIMIT $2` };
const PRUNE = { name: 'warden_revocations_prune_v8', text: 'DELETE FROM warden_revocations WHERE expires_at IS NOT NULL AND expires_at <= $1 RETURNING seq' };
const LOCK = 'LOCK TABLE warden_revocations IN SHARE ROW EXCLUSIVE MODE';
/** An expired record of the pair is no revocation: `add` replaces it. */
const DROP_EXPIRED = 'DELETE FROM warden_revocations WHERE kind = $1 AND value = $2 AND expires_at IS NOT NULL AND expires_at <= $3';
const TAKE_IN_FORCE = `DELETE FROM warden_revocations WHERE kind = $1 AND value = $2 AND (expires_at IS NULL OR expires_at > $3) RETURNING ${REVOCATION_COLS}`;

/** How long a feed read may take before the feed counts as lost (a silently dead connection must not hang it). */

export class PostgresRevocationStore implements RevocationStore {
  /** `run` and `transaction` check for close and scrub the password; `target` opens the feed's own connection. */
  constructor(
    private readonly run: Run,
    private readonly transaction: InTransaction,
    private readonly target: PostgresTarget,
    private readonly ensureOpen: () => void,
  ) {}

  async add(r: NewRevocation): Promise<{ record: RevocationRecord; created: boolean }> {
    const row = revocationToRow(r);
    return this.transaction('revocation add', LOCK, async (client) => {
      await client.query(DROP_EXPIRED, [r.kind, r.value, r.revokedAt]);
      const inserted = await client.query<RevocationRow>(INSERT, REVOCATION_INSERT_COLUMNS.map((c) => row[c]));
      const stored = inserted.rows[0];
      if (stored === undefined) {
        const existing = await client.query<RevocationRow>(BY_SUBJECT, [r.kind, r.value]);
        return { record: revocationFromRow(existing.rows[0]!), created: false };
      }
      await client.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, stored.id]);
      return { record: revocationFromRow(stored), created: true };
    });
  }

  async list(filter: RevocationFilter = {}): Promise<RevocationRecord[]> {
    const q = listWhere(filter, p);
    const rows = await this.run<RevocationRow>('revocation list', { name: `warden_revocations_list_${q.shape}_lifts`, text: revocationListSql(q.where) }, q.values);
    return rows.map(revocationFromRow);
  }

  async lift(kind: RevocationKind, value: string, at: string): Promise<RevocationRecord | undefined> {
    checkKind(kind);
    checkIso(at, 'at');
    // Under the table lock, as `add`: the copy's new seq is drawn in commit order. Announced like a new record.
    return this.transaction('revocation lift', LOCK, async (client) => {
      const taken = (await client.query<RevocationRow>(TAKE_IN_FORCE, [kind, value, at])).rows[0];
      if (taken === undefined) return undefined;
      const copy = liftedRow(taken);
      const stored = (await client.query<RevocationRow>(INSERT, REVOCATION_INSERT_COLUMNS.map((c) => copy[c]))).rows[0]!;
      await client.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, stored.id]);
      return revocationFromRow(stored);
    });
  }

  async since(afterSeq: number, limit: number): Promise<RevocationRecord[]> {
    checkSince(afterSeq, limit);
    return (await this.run<RevocationRow>('revocation read', SINCE, [afterSeq, limit])).map(revocationFromRow);
  }

  async prune(now: string): Promise<number> {
    checkIso(now, 'now');
    return (await this.run('revocation prune', PRUNE, [now])).length;
  }

  /**
   * A dedicated client (not from the pool: LISTEN belongs to one session) named `<application_name>:revocations`
   * so operators can tell it apart. Errors and the end of the connection call `onLost` once.
   */
  async subscribe(onNotify: (id: string) => void, onLost: (err: Error) => void): Promise<RevocationFeed> {
    this.ensureOpen();
    const feed = await openListenFeed(this.target, 'revocations', REVOCATION_CHANNEL, (payload) => onNotify(payload ?? ''), onLost);
    return {
      since: async (afterSeq, limit) => {
        checkSince(afterSeq, limit);
        if (!feed.up()) throw new StoreError('store_unavailable', 'the revocation feed is closed');
        try {
          return (await feed.client.query<RevocationRow>({ ...SINCE, values: [afterSeq, limit] })).rows.map(revocationFromRow);
        } catch (err) {
          // A failed read (a timeout on a half-dead connection) means the feed cannot be trusted: drop it.
          feed.lose(err);
          throw feed.fail(err, 'revocation read failed');
        }
      },
      close: () => feed.close(),
    };
  }
}

/**
 * Migration 8. seq is an identity column (a sequence: never reused); COLLATE "C" makes ids and ISO times sort
 * bytewise, as in SQLite.
 */
export const revocationsMigration = {
  version: 8,
  name: 'revocations',
  sql: revocationsMigrationSql('bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY', ' COLLATE "C"'),
} as const;
