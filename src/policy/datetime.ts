/**
 * Cedar's datetime and duration extension (Cedar 4.x, RFC 80): parsing and the methods offset,
 * durationSince, toDate, toTime, toDays/Hours/Minutes/Seconds/Milliseconds. All arithmetic is i64 with
 * overflow as an error, done in bigint.
 */
import { EvalError } from './eval-error.js';
import { CedarDatetime, CedarDuration } from './extension-values.js';

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const DAY = 86_400_000n;

const fail = (fn: string, msg: string): EvalError => new EvalError(`error while evaluating \`${fn}\` extension function: ${msg}`);

function checked(v: bigint, fn: string, what: string): bigint {
  if (v < I64_MIN || v > I64_MAX) throw fail(fn, what);
  return v;
}

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const DATE_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})/;
const TIME_RE = /^T([0-9]{2}):([0-9]{2}):([0-9]{2})/;
const TAIL_RE = /^(?:\.([0-9]{3}))?(?:(Z)|([+-])([0-9]{2})([0-9]{2}))$/;

export function parseDatetime(s: string): CedarDatetime {
  const dm = DATE_RE.exec(s);
  if (dm === null) throw fail('datetime', 'invalid date pattern');
  const [y, mo, d] = [Number(dm[1]), Number(dm[2]), Number(dm[3])];
  const dim = mo === 2 && isLeap(y) ? 29 : (DAYS_IN_MONTH[mo - 1] ?? 0);
  if (mo < 1 || mo > 12 || d < 1 || d > dim) throw fail('datetime', `invalid date: ${dm[0]}`);
  let ms = BigInt(daysFromCivil(y, mo, d)) * DAY;
  if (s.length === 10) return new CedarDatetime(ms);
  const rest = s.slice(10);
  const tm = TIME_RE.exec(rest);
  if (tm === null) throw fail('datetime', 'invalid hour/minute/second pattern');
  const [h, mi, sec] = [Number(tm[1]), Number(tm[2]), Number(tm[3])];
  if (h > 23 || mi > 59 || sec > 59) throw fail('datetime', `invalid hour/minute/second: ${tm[0].slice(1)}`);
  const tail = TAIL_RE.exec(rest.slice(9));
  if (tail === null) throw fail('datetime', 'invalid millisecond and/or offset pattern');
  ms += BigInt(((h * 60 + mi) * 60 + sec) * 1000 + (tail[1] === undefined ? 0 : Number(tail[1])));
  if (tail[2] === undefined) {
    const oh = Number(tail[4]);
    const om = Number(tail[5]);
    if (oh > 23 || om > 59) throw fail('datetime', `invalid offset range: ${tail[4]}${tail[5]}`);
    const off = BigInt((oh * 60 + om) * 60_000);
    ms = tail[3] === '+' ? ms - off : ms + off;
  }
  return new CedarDatetime(ms);
}

const DURATION_RE = /^(-?)(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$/;
const UNITS = [86_400_000n, 3_600_000n, 60_000n, 1000n, 1n];

export function parseDuration(s: string): CedarDuration {
  const m = DURATION_RE.exec(s);
  if (m === null || m.slice(2).every((g) => g === undefined)) throw fail('duration', 'invalid duration pattern');
  let total = 0n;
  for (let i = 0; i < UNITS.length; i++) {
    const g = m[i + 2];
    if (g !== undefined) total += BigInt(g) * (UNITS[i] as bigint);
  }
  if (m[1] === '-') total = -total;
  return new CedarDuration(checked(total, 'duration', 'Duration overflows internal representation'));
}

export const offset = (dt: CedarDatetime, d: CedarDuration): CedarDatetime =>
  new CedarDatetime(checked(dt.ms + d.ms, 'offset', 'overflows when adding an offset'));

export const durationSince = (a: CedarDatetime, b: CedarDatetime): CedarDuration =>
  new CedarDuration(checked(a.ms - b.ms, 'durationSince', 'overflows when computing the duration'));

export function toDate(dt: CedarDatetime): CedarDatetime {
  const r = dt.ms % DAY;
  const floored = dt.ms >= 0n || r === 0n ? dt.ms - r : dt.ms - r - DAY;
  return new CedarDatetime(checked(floored, 'toDate', 'overflows when computing the date'));
}

export function toTime(dt: CedarDatetime): CedarDuration {
  const r = dt.ms % DAY;
  return new CedarDuration(r < 0n ? r + DAY : r);
}

/** Whole units of a duration, truncated toward zero (bigint division). */
export const durationIn = (d: CedarDuration, unitMs: bigint): bigint => d.ms / unitMs;
