/**
 * Cedar's extension types as values: decimal, ipaddr, datetime, duration. Each constructor parses the
 * string form exactly as Cedar 4.5 does and throws EvalError where Cedar reports an extension error.
 * Datetime and duration parsing live in datetime.ts.
 */
import { EvalError } from './eval-error.js';

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const inI64 = (b: bigint): boolean => b >= I64_MIN && b <= I64_MAX;

/** decimal: an i64 scaled by 10^4. */
export class CedarDecimal {
  constructor(readonly v: bigint) {}
}

const DECIMAL_RE = /^(-?[0-9]+)\.([0-9]+)$/;

export function parseDecimal(s: string): CedarDecimal {
  const m = DECIMAL_RE.exec(s);
  if (m === null) throw decimalError(`failed to parse as a decimal value: \`${JSON.stringify(s)}\``);
  const left = m[1] as string;
  const right = m[2] as string;
  if (right.length > 4) throw decimalError(`too many digits after the decimal in \`${s}\``);
  const neg = left.startsWith('-');
  const mag = BigInt(neg ? left.slice(1) : left) * 10_000n + BigInt(right) * 10n ** BigInt(4 - right.length);
  const v = neg ? -mag : mag;
  if (!inI64(v)) throw decimalError(`overflow when converting to decimal`);
  return new CedarDecimal(v);
}

const decimalError = (msg: string): EvalError => new EvalError(`error while evaluating \`decimal\` extension function: ${msg}`);

/** ipaddr: an address (as given, host bits kept) and a prefix length. */
export class CedarIp {
  constructor(
    readonly v6: boolean,
    readonly addr: bigint,
    readonly prefix: number,
  ) {}

  get bits(): number {
    return this.v6 ? 128 : 32;
  }
  get start(): bigint {
    const hostBits = BigInt(this.bits - this.prefix);
    return (this.addr >> hostBits) << hostBits;
  }
  get end(): bigint {
    const hostBits = BigInt(this.bits - this.prefix);
    return this.start | ((1n << hostBits) - 1n);
  }
  equals(o: CedarIp): boolean {
    return this.v6 === o.v6 && this.addr === o.addr && this.prefix === o.prefix;
  }
  inRange(o: CedarIp): boolean {
    return this.v6 === o.v6 && this.start >= o.start && this.end <= o.end;
  }
}

const ipError = (msg: string): EvalError => new EvalError(`error while evaluating \`ipaddr\` extension function: ${msg}`);

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseGroups(s: string): number[] | undefined {
  if (s === '') return [];
  const out: number[] = [];
  for (const g of s.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

function parseV6(s: string): bigint | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] as string);
  const tail = halves.length === 2 ? parseGroups(halves[1] as string) : [];
  if (head === undefined || tail === undefined) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    // "::" stands for at least one zero group.
    if (head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

export function parseIp(s: string): CedarIp {
  if (s.includes(':') && s.includes('.')) throw ipError(`invalid IP address: ${s}`);
  const slash = s.indexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const v6 = addrText.includes(':');
  const addr = v6 ? parseV6(addrText) : parseV4(addrText);
  if (addr === undefined) throw ipError(`invalid IP address: ${s}`);
  const max = v6 ? 128 : 32;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === '0') || Number(p) > max) throw ipError(`invalid IP address: ${s}`);
    prefix = Number(p);
  }
  return new CedarIp(v6, addr, prefix);
}

const LOOPBACK_V4 = new CedarIp(false, 0x7f000000n, 8);
const LOOPBACK_V6 = new CedarIp(true, 1n, 128);
const MULTICAST_V4 = new CedarIp(false, 0xe0000000n, 4);
const MULTICAST_V6 = new CedarIp(true, 0xffn << 120n, 8);

export const isLoopback = (ip: CedarIp): boolean => ip.inRange(ip.v6 ? LOOPBACK_V6 : LOOPBACK_V4);
export const isMulticast = (ip: CedarIp): boolean => ip.inRange(ip.v6 ? MULTICAST_V6 : MULTICAST_V4);

/** datetime: milliseconds since the Unix epoch (i64). */
export class CedarDatetime {
  constructor(readonly ms: bigint) {}
}

/** duration: milliseconds (i64). */
export class CedarDuration {
  constructor(readonly ms: bigint) {}
}
