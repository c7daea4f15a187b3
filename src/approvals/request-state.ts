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

/** A stateless call parked while the client answers what its upstream asked (multi round-trip requests). */
export interface InputState {
  /** The parked call, in this gateway process. */
  id: string;
  /** principalKey of the caller. */
  owner: string;
  /** Digest of the request (method and params, without the input fields). */
  digest: string;
  exp: number;
  /** Set when the question came from a 2026-07-28 upstream: which one, and its own requestState, sealed in ours. */
  upstream?: string;
  upstreamState?: string;
}

const LABEL = 'mcp-warden approval requestState v1';
const MAX_LENGTH = 2048;
/** A parked call's state may carry a modern upstream's own requestState (bounded: it travels in every retry). */
const MAX_INPUT_LENGTH = 16 * 1024;

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

  /**
   * A parked stateless call's state (multi round-trip requests): the same seal, another shape (`k: 'input'`),
   * so neither kind ever opens as the other.
   */
  sealInput(s: InputState): string {
    const upstream = s.upstream === undefined ? {} : { s: s.upstream, ...(s.upstreamState === undefined ? {} : { u: s.upstreamState }) };
    const body = Buffer.from(JSON.stringify({ v: 1, k: 'input', i: s.id, o: s.owner, d: s.digest, e: s.exp, ...upstream })).toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  openInput(text: unknown): InputState | undefined {
    const r = this.authentic(text, MAX_INPUT_LENGTH);
    if (r === undefined || r.k !== 'input' || typeof r.i !== 'string' || typeof r.o !== 'string' || typeof r.d !== 'string' || typeof r.e !== 'number') return undefined;
    if ((r.s !== undefined && typeof r.s !== 'string') || (r.u !== undefined && typeof r.u !== 'string')) return undefined;
    return { id: r.i, owner: r.o, digest: r.d, exp: r.e, ...(typeof r.s === 'string' ? { upstream: r.s } : {}), ...(typeof r.u === 'string' ? { upstreamState: r.u } : {}) };
  }

  /** The state if it is well formed, authentic and unexpired; otherwise undefined (the caller says why in general terms). */
  open(text: unknown): ApprovalState | undefined {
    const r = this.authentic(text);
    if (r === undefined || r.k !== undefined || typeof r.a !== 'string' || typeof r.d !== 'string' || typeof r.e !== 'number') return undefined;
    return { approvalId: r.a, digest: r.d, exp: r.e };
  }

  /** The sealed object if the text is well formed, authentic, version 1 and unexpired. */
  private authentic(text: unknown, maxLength = MAX_LENGTH): Record<string, unknown> | undefined {
    if (typeof text !== 'string' || text.length > maxLength) return undefined;
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
    if (typeof o !== 'object' || o === null) return undefined;
    const r = o as Record<string, unknown>;
    if (r.v !== 1 || typeof r.e !== 'number' || r.e * 1000 <= this.now()) return undefined;
    return r;
  }
}
