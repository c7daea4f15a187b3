/**
 * The audit hash chain: one chain per store. Every stored event has a `seq` (1, 2, 3, ... with no gaps), the
 * `prevHash` of the event before it (64 zeros before the first) and its own
 *
 *   hash = sha256hex(prevHash + '\n' + canonicalJson(content))
 *
 * where content is the event without seq, prevHash and hash, and without null fields or empty lists. They
 * are left out so that a later migration adding a nullable or list column (read back as null or [] for older
 * rows) keeps every earlier hash valid; in the store, null, [] and missing mean the same thing.
 *
 * These are pure functions. Both store backends call them inside their append transaction, after reading
 * the chain head under the store's write lock, so the chain stays single with several writers.
 */
import { canonicalJson, sha256hex } from './digest.js';
import type { AuditEvent } from './event.js';

/** The prevHash of the first event of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** The last link of a chain: the position and hash the next event chains to. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export interface ChainLink {
  seq: number;
  prevHash: string;
  hash: string;
}

/** The canonical text of an event's hashed content. Independent of its position, so it can be computed before the lock. */
export function eventContent(event: AuditEvent): string {
  const fields = event as unknown as Record<string, unknown>;
  const content: Record<string, unknown> = {};
  for (const key of Object.keys(fields)) {
    if (key === 'seq' || key === 'prevHash' || key === 'hash') continue;
    const value = fields[key];
    if (value === null || value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    content[key] = value;
  }
  return canonicalJson(content);
}

/** The hash of a link from the previous hash and the event's canonical content. */
export function linkHash(prevHash: string, content: string): string {
  return sha256hex(`${prevHash}\n${content}`);
}


/** The hash an event must carry when it follows `prevHash`. */
export function eventHash(prevHash: string, event: AuditEvent): string {
  return linkHash(prevHash, eventContent(event));
}

/** Links contents (from eventContent) after `head` (undefined: an empty chain), in order. */
export function linkContents(head: ChainHead | undefined, contents: readonly string[]): ChainLink[] {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const out: ChainLink[] = new Array<ChainLink>(contents.length);
  for (let i = 0; i < contents.length; i++) {
    const hash = linkHash(prevHash, contents[i]!);
    seq += 1;
    out[i] = { seq, prevHash, hash };
    prevHash = hash;
  }
  return out;
}

/** True when `hash` is a well-formed link hash (64 lowercase hex digits). */
export function isLinkHash(hash: unknown): hash is string {
  return typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash);
}
