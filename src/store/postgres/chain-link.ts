/**
 * The audit chain's append on PostgreSQL, for several writers: one statement links and inserts a batch.
 *
 * Links are made under a transaction-scoped advisory lock (one key per schema), after the chain head is read
 * under it. Taking that lock in a client-driven transaction held it across round trips to the replica (BEGIN
 * and lock, then the INSERT, then COMMIT): every other replica's append waited on a network hop and on
 * whatever delayed the holder's next statement. Here the server does it all inside one autocommit
 * statement: `warden_audit_link` takes the lock, reads the head with a fresh snapshot (a volatile function's
 * statements each take one, so it sees the previous holder's commit) and hashes the canonical contents the
 * replica computed; the INSERT stores the rows with those links; the commit ends the statement and frees the
 * lock. The hash is the same sha256(prevHash + '\n' + content) as src/audit/chain.ts, so `audit verify`
 * recomputes it from the stored row exactly as before: tamper evidence is unchanged.
 */
import { AUDIT_COLUMNS } from '../audit-rows.js';

export const chainLinkMigration = {
  version: 21,
  name: 'server-side audit chain link',
  sql: `
    CREATE FUNCTION warden_audit_link(lock_key bigint, contents text[])
    RETURNS TABLE (link_ord bigint, link_seq bigint, link_prev text, link_hash text)
    LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE
      head_seq  bigint;
      head_hash text;
    BEGIN
      PERFORM pg_advisory_xact_lock(lock_key);
      SELECT e.seq, e.hash INTO head_seq, head_hash FROM warden_audit_events e
        WHERE e.seq IS NOT NULL ORDER BY e.seq DESC LIMIT 1;
      IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
      END IF;
      FOR i IN 1 .. coalesce(array_length(contents, 1), 0) LOOP
        link_ord := i;
        link_prev := head_hash;
        link_seq := head_seq + 1;
        link_hash := encode(sha256(convert_to(head_hash || E'\\n' || contents[i], 'UTF8')), 'hex');
        head_seq := link_seq;
        head_hash := link_hash;
        RETURN NEXT;
      END LOOP;
    END
    $fn$;
  `,
};

const sqlType = (c: string): string => (c === 'latency_ms' ? 'double precision' : 'text');
const n = AUDIT_COLUMNS.length;

/**
 * Columns travel as one array each (unnest zips them into rows, numbered by ordinality), then the lock key
 * and the contents. MATERIALIZED: the link function runs exactly once per statement.
 */
export const APPEND_LINKED = {
  // Statement names carry the schema version: a name must never be reused for different text.
  name: 'warden_audit_append_v21',
  text:
    `WITH l AS MATERIALIZED (SELECT * FROM warden_audit_link($${n + 1}::bigint, $${n + 2}::text[])) ` +
    `INSERT INTO warden_audit_events (${AUDIT_COLUMNS.join(', ')}, seq, prev_hash, hash) ` +
    `SELECT ${AUDIT_COLUMNS.map((c) => `r.${c}`).join(', ')}, l.link_seq, l.link_prev, l.link_hash ` +
    `FROM unnest(${AUDIT_COLUMNS.map((c, i) => `$${i + 1}::${sqlType(c)}[]`).join(', ')}) WITH ORDINALITY ` +
    `AS r(${AUDIT_COLUMNS.join(', ')}, ord) JOIN l ON l.link_ord = r.ord`,
};
