/**
 * Row mapping for tool integrity pins, shared by both backends (migration 19). One row per definition an
 * upstream served (upstream, kind, name, digest): at most one is `approved` (the pin), others wait
 * (`pending`), were refused (`rejected`) or were replaced by a later approval (`superseded`).
 */
import { checkIso } from './identity-rows.js';
import type { PinKind, PinRecord, PinState } from './types.js';

export const PIN_COLUMNS = ['upstream', 'kind', 'name', 'digest', 'definition', 'findings', 'state', 'first_seen_at', 'decided_at', 'decided_by'] as const;
export type PinRow = Record<(typeof PIN_COLUMNS)[number], string | null>;

const STATES: readonly PinState[] = ['approved', 'pending', 'rejected', 'superseded'];
const KINDS: readonly PinKind[] = ['tool', 'prompt'];
/** A definition kept for review is bounded: an upstream may not fill the store through its descriptions. */
export const MAX_DEFINITION_CHARS = 256 * 1024;

const nonEmpty = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v === '') throw new RangeError(`a pin needs ${what}`);
  return v;
};

export function checkPinKind(kind: unknown): asserts kind is PinKind {
  if (!KINDS.includes(kind as PinKind)) throw new RangeError(`pin kind must be one of ${KINDS.join(', ')}, got ${String(kind)}`);
}

export function pinToRow(r: PinRecord): PinRow {
  checkPinKind(r.kind);
  if (!STATES.includes(r.state)) throw new RangeError(`pin state must be one of ${STATES.join(', ')}`);
  checkIso(r.firstSeenAt, 'firstSeenAt');
  if (r.decidedAt !== null) checkIso(r.decidedAt, 'decidedAt');
  if (typeof r.definition !== 'string' || r.definition.length > MAX_DEFINITION_CHARS) throw new RangeError(`a pinned definition is a string of at most ${MAX_DEFINITION_CHARS} characters`);
  if (!Array.isArray(r.findings) || !r.findings.every((f) => typeof f === 'string')) throw new RangeError('pin findings must be a list of ids');
  return {
    upstream: nonEmpty(r.upstream, 'an upstream'),
    kind: r.kind,
    name: nonEmpty(r.name, 'a name'),
    digest: nonEmpty(r.digest, 'a digest'),
    definition: r.definition,
    findings: JSON.stringify(r.findings),
    state: r.state,
    first_seen_at: r.firstSeenAt,
    decided_at: r.decidedAt,
    decided_by: r.decidedBy,
  };
}

export function pinFromRow(row: PinRow): PinRecord {
  let findings: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.findings ?? '[]');
    if (Array.isArray(parsed)) findings = parsed.filter((f): f is string => typeof f === 'string');
  } catch {
    // A damaged row reads as having no recorded findings; the gateway scans the definition again anyway.
  }
  return {
    upstream: row.upstream as string,
    kind: row.kind as PinKind,
    name: row.name as string,
    digest: row.digest as string,
    definition: row.definition as string,
    findings,
    state: row.state as PinState,
    firstSeenAt: row.first_seen_at as string,
    decidedAt: row.decided_at,
    decidedBy: row.decided_by,
  };
}

/** Migration 19 on both backends (PostgreSQL adds COLLATE "C" to the sorted columns). */
export function pinsMigrationSql(collate: string): string {
  return `
    CREATE TABLE warden_tool_pins (
      upstream      TEXT${collate} NOT NULL,
      kind          TEXT NOT NULL CHECK (kind IN ('tool', 'prompt')),
      name          TEXT${collate} NOT NULL,
      digest        TEXT NOT NULL,
      definition    TEXT NOT NULL,
      findings      TEXT NOT NULL,
      state         TEXT NOT NULL CHECK (state IN ('approved', 'pending', 'rejected', 'superseded')),
      first_seen_at TEXT${collate} NOT NULL,
      decided_at    TEXT${collate},
      decided_by    TEXT,
      PRIMARY KEY (upstream, kind, name, digest)
    );
    CREATE INDEX warden_tool_pins_state ON warden_tool_pins (state, upstream);
  `;
}

const ORDER = 'ORDER BY upstream, kind, name, first_seen_at, digest';
const COLS = PIN_COLUMNS.join(', ');

/** The list query for a filter, with placeholders from `p` (1-based). */
export function pinListSql(filter: { upstream?: string; state?: PinState }, p: (i: number) => string): { text: string; values: string[]; mask: string } {
  const where: string[] = [];
  const values: string[] = [];
  if (filter.upstream !== undefined) where.push(`upstream = ${p(values.push(filter.upstream))}`);
  if (filter.state !== undefined) where.push(`state = ${p(values.push(filter.state))}`);
  const mask = `${filter.upstream === undefined ? 0 : 1}${filter.state === undefined ? 0 : 1}`;
  return { text: `SELECT ${COLS} FROM warden_tool_pins${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ${ORDER}`, values, mask };
}

/**
 * One statement for a decision, so it is atomic on both backends: approving one digest supersedes the pin
 * it replaces; rejecting marks only that digest (an approved pin cannot be rejected, only replaced).
 */
export function pinDecideSql(state: 'approved' | 'rejected', p: (i: number) => string): string {
  const key = `upstream = ${p(1)} AND kind = ${p(2)} AND name = ${p(3)}`;
  if (state === 'rejected') {
    return `UPDATE warden_tool_pins SET state = 'rejected', decided_at = ${p(5)}, decided_by = ${p(6)} WHERE ${key} AND digest = ${p(4)} AND state = 'pending' RETURNING ${COLS}`;
  }
  return `UPDATE warden_tool_pins SET state = CASE WHEN digest = ${p(4)} THEN 'approved' ELSE 'superseded' END, decided_at = ${p(5)}, decided_by = ${p(6)}
    WHERE ${key} AND (digest = ${p(4)} OR state = 'approved') AND EXISTS (SELECT 1 FROM warden_tool_pins x WHERE x.upstream = ${p(1)} AND x.kind = ${p(2)} AND x.name = ${p(3)} AND x.digest = ${p(4)} AND x.state <> 'approved')
    RETURNING ${COLS}`;
}

/** The fingerprint `version()` reads: rows, decisions, states and the latest times (one indexed scan). */
export const PIN_VERSION_SQL = `SELECT count(*) || '/' || count(decided_at) || '/' || coalesce(sum(length(state)), 0) || '/' || coalesce(max(first_seen_at), '') || '/' || coalesce(max(decided_at), '') AS v FROM warden_tool_pins`;
