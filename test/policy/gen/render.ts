/**
 * Writes a runtime value back as a Cedar expression, so cedar-wasm can check a value the compiled code
 * computed: `(expr) == (rendered value)` must hold in Cedar.
 */
import { CedarDatetime, CedarDecimal, CedarDuration, CedarIp } from '../../../src/policy/extension-values.js';
import { CedarRecord, CedarSet, EntityUid, type Value } from '../../../src/policy/values.js';
import { str } from './policies.js';

const I64_MIN = -(2n ** 63n);

function long(n: number | bigint): string {
  const b = BigInt(n);
  if (b === I64_MIN) return '(-9223372036854775807 - 1)';
  return b < 0n ? `(${b})` : String(b);
}

function ip(v: CedarIp): string {
  let text: string;
  if (v.v6) {
    const groups: string[] = [];
    for (let i = 7; i >= 0; i--) groups.push(((v.addr >> BigInt(i * 16)) & 0xffffn).toString(16));
    text = groups.join(':');
  } else {
    text = [24, 16, 8, 0].map((s) => String((v.addr >> BigInt(s)) & 0xffn)).join('.');
  }
  return `ip(${str(`${text}/${v.prefix}`)})`;
}

function decimal(v: bigint): string {
  const neg = v < 0n;
  const m = neg ? -v : v;
  return `decimal(${str(`${neg ? '-' : ''}${m / 10_000n}.${String(m % 10_000n).padStart(4, '0')}`)})`;
}

const durationText = (ms: bigint): string => `duration(${str(`${ms}ms`)})`;

export function render(v: Value): string {
  switch (typeof v) {
    case 'boolean':
      return String(v);
    case 'number':
    case 'bigint':
      return long(v);
    case 'string':
      return str(v);
  }
  if (v instanceof EntityUid) return `${v.type}::${str(v.id)}`;
  if (v instanceof CedarSet) return `[${v.items.map(render).join(', ')}]`;
  if (v instanceof CedarRecord) return `{${[...v.map].map(([k, x]) => `${str(k)}: ${render(x)}`).join(', ')}}`;
  if (v instanceof CedarDecimal) return decimal(v.v);
  if (v instanceof CedarIp) return ip(v);
  if (v instanceof CedarDatetime) return `datetime("1970-01-01").offset(${durationText(v.ms)})`;
  if (v instanceof CedarDuration) return durationText(v.ms);
  throw new Error('unrenderable value');
}
