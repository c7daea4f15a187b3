/** Identifier sources. Injected where tests need control; the defaults are unguessable. */
import { randomBytes, randomFillSync } from 'node:crypto';

let lastMs = 0;
let seq = 0;

// Random bytes come from a pool refilled 4 KiB at a time: one syscall per 256 ids instead of two per id.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function pooled(n: number): Buffer {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  // A copy: the pool's bytes are never handed out twice, nor kept referenced by a caller.
  const out = Buffer.from(pool.subarray(poolAt, poolAt + n));
  poolAt += n;
  return out;
}
const random16 = (): Buffer => pooled(16);

/** `bytes` (at most 64) random bytes from the pool, base64url: for per-request ids on the hot path. */
export function randomId(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 64) throw new RangeError('randomId takes 1 to 64 bytes');
  return pooled(bytes).toString('base64url');
}

/**
 * UUIDv7 (RFC 9562): 48-bit millisecond time, a 12-bit sequence, then 62 random bits. Within one process
 * ids are strictly increasing (method 1: the sequence counts up inside a millisecond), so a reader that
 * follows a log by "ids after X" never misses an event written later.
 */
export function uuidv7(now: number = Date.now()): string {
  let ms = Math.floor(now);
  if (ms <= lastMs) {
    ms = lastMs;
    seq++;
    if (seq > 0xfff) {
      ms++;
      seq = 0;
    }
  } else {
    // A random start leaves room to count up within the millisecond.
    seq = random16().readUInt16BE(0) & 0x7ff;
  }
  lastMs = ms;
  const b = random16();
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A session id: 256 random bits, visible ASCII as the transport spec requires. */
export function sessionId(): string {
  return randomBytes(32).toString('base64url');
}

export interface Clock {
  /** Milliseconds since the epoch, with sub-millisecond precision where the clock has it. */
  now(): number;
}

/** Epoch time from the monotonic high-resolution timer, so latencies below a millisecond are measurable. */
export const systemClock: Clock = { now: () => performance.timeOrigin + performance.now() };
