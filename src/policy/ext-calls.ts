/**
 * Cedar 4.5's extension functions, as the compiler calls them: constructors (ip, decimal, datetime,
 * duration) and methods (isIpv4, lessThan, offset, toDays, ...). A call with a wrong argument type is a
 * type error; an unknown function name is not here, so its policy falls back to cedar-wasm.
 */
import { durationIn, durationSince, offset, toDate, toTime } from './datetime.js';
import { CedarDatetime, CedarDecimal, CedarDuration, CedarIp, isLoopback, isMulticast } from './extension-values.js';
import { EXTENSION_CONSTRUCTORS } from './input.js';
import { canonLong, typeError, type Value } from './values.js';

export interface ExtFunction {
  arity: number;
  call: (args: Value[]) => Value;
}

function str(v: Value): string {
  if (typeof v !== 'string') throw typeError('string', v);
  return v;
}
function ip(v: Value): CedarIp {
  if (!(v instanceof CedarIp)) throw typeError('ipaddr', v);
  return v;
}
function dec(v: Value): CedarDecimal {
  if (!(v instanceof CedarDecimal)) throw typeError('decimal', v);
  return v;
}
function dt(v: Value): CedarDatetime {
  if (!(v instanceof CedarDatetime)) throw typeError('datetime', v);
  return v;
}
function dur(v: Value): CedarDuration {
  if (!(v instanceof CedarDuration)) throw typeError('duration', v);
  return v;
}

const unary = (f: (a: Value) => Value): ExtFunction => ({ arity: 1, call: (a) => f(a[0] as Value) });
const binary = (f: (a: Value, b: Value) => Value): ExtFunction => ({ arity: 2, call: (a) => f(a[0] as Value, a[1] as Value) });
const durUnit = (unitMs: bigint): ExtFunction => unary((d) => canonLong(durationIn(dur(d), unitMs), 'convert a duration'));

export const EXT_FUNCTIONS: Readonly<Record<string, ExtFunction>> = {
  ...Object.fromEntries(Object.entries(EXTENSION_CONSTRUCTORS).map(([name, parse]) => [name, unary((s) => parse(str(s)))])),
  isIpv4: unary((a) => !ip(a).v6),
  isIpv6: unary((a) => ip(a).v6),
  isLoopback: unary((a) => isLoopback(ip(a))),
  isMulticast: unary((a) => isMulticast(ip(a))),
  isInRange: binary((a, b) => ip(a).inRange(ip(b))),
  lessThan: binary((a, b) => dec(a).v < dec(b).v),
  lessThanOrEqual: binary((a, b) => dec(a).v <= dec(b).v),
  greaterThan: binary((a, b) => dec(a).v > dec(b).v),
  greaterThanOrEqual: binary((a, b) => dec(a).v >= dec(b).v),
  offset: binary((a, b) => offset(dt(a), dur(b))),
  durationSince: binary((a, b) => durationSince(dt(a), dt(b))),
  toDate: unary((a) => toDate(dt(a))),
  toTime: unary((a) => toTime(dt(a))),
  toDays: durUnit(86_400_000n),
  toHours: durUnit(3_600_000n),
  toMinutes: durUnit(60_000n),
  toSeconds: durUnit(1000n),
  toMilliseconds: durUnit(1n),
};
