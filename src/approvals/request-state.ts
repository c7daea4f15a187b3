/**
 * The `requestState` of an in-protocol approval prompt on 2026-07-28 (an input-required result): it names
 * the approval request a retried call waits on, so it is integrity-protected (HMAC-SHA256 under a key
 * derived from the page secret, shared by every replica) and bound to the principal, the call's digest
 * and a short expiry. It grants nothing by itself: the approval in the store is what authorises, bound to
 * the same digest and consumed once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface ApprovalState {
  /** The approval request. */
  approvalId: string;
  /** callDigest of the call (principal, task, tool, arguments). */
  digest: string;
  /** Epoch seconds after which the state is refused. */
  exp: number;
}

const LABEL = 'mcp-warden approval requestState v1';
const MAX_LENGTH = 2048;

/** A key for one purpose, from the page secret (the cookie keys use other labels). */
export function derivedKey(secret: string, label: string): Buffer {
  return createHmac('sha256', secret).update(label).digest();
}

export class RequestStateCodec {
  private readonly key: Buffer;

  constructor(secret: string, private readonly now: () => number = Date.now) {
    if (Buffer.byteLength(secret) < 32) throw new Error('the approval page secret must be at least 32 bytes');
    this.key = derivedKey(secret, LABEL);
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }

  seal(s: ApprovalState): string {
    const body = Buffer.from(JSON.stringify({ v: 1, a: s.approvalId, d: s.digest, e: s.exp })).toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** The state if it is well formed, authentic and unexpired; otherwise undefined (the caller says why in general terms). */
  open(text: unknown): ApprovalState | undefined {
    if (typeof text !== 'string' || text.length > MAX_LENGTH) return undefined;
    const [body, tag, extra] = text.split('.');
    if (!body || !tag || extra !== undefined) return undefined;
    const given = Buffer.from(tag, 'base64url');
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let o: unknown;
    try {
      o = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const r = o as Record<string, unknown>;
    if (r.v !== 1 || typeof r.a !== 'string' || typeof r.d !== 'string' || typeof r.e !== 'number') return undefined;
    if (r.e * 1000 <= this.now()) return undefined;
    return { approvalId: r.a, digest: r.d, exp: r.e };
  }
}
