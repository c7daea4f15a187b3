/** Identifier sources. Injected where tests need control; the defaults are unguessable. */
import { randomBytes } from 'node:crypto';

/** UUIDv7: 48-bit millisecond time, then 74 random bits; sorts by creation time. */
export function uuidv7(now: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(Math.floor(now), 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
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
