/**
 * Verifies a store's audit chain and checkpoints, and names the first broken link. Events are read by seq in
 * pages, so memory stays bounded whatever the log's size; the walk stops at the first break.
 *
 *   const result = await verifyAudit(store);
 *   if (!result.ok) console.log(`broken at seq ${result.firstBroken.seq}: ${result.firstBroken.reason}`);
 *
 * How a break is classified (the seq is what matters most; the reason is the likeliest explanation):
 * - a gap in seq: `deleted` at the first missing seq;
 * - an event whose hash does not match its content: `reordered` when its content is that of a later seq,
 *   else `modified` (or `inserted` when its link is broken too and the next event skips it);
 * - an event that does not chain to the one before: `reordered` when it chains to a later event, `inserted`
 *   when the next event chains past it (or it is the last), `deleted` when the events after it chain to it
 *   (the events before it were removed and the rest renumbered);
 * - a row without a seq (warden never writes one): `inserted`;
 * - a checkpoint whose key, signature or signed content is wrong, or whose hash is not the chain's at its
 *   seq (a rewrite with every later hash recomputed): `bad-checkpoint`; a checkpoint beyond the last event:
 *   `deleted` (the events after it were removed).
 * What no chain can show: events appended or removed after the newest checkpoint by someone who recomputes
 * the hashes. See checkpoints.ts for the trust model.
 */
import type { AuditChainHead, AuditCheckpoint, Store } from '../store/types.js';
import { eventContent, eventHash, GENESIS_HASH, linkHash } from './chain.js';
import { checkCheckpoint, thumbprint } from './checkpoints.js';
import type { AuditEvent } from './event.js';

export type BreakReason = 'modified' | 'deleted' | 'inserted' | 'reordered' | 'bad-checkpoint';

export interface BrokenLink {
  seq: number;
  reason: BreakReason;
  detail: string;
}

export interface CheckpointKeyInfo {
  kid: string;
  alg: string;
  /** RFC 7638 thumbprint (base64url SHA-256) to compare with a copy kept outside the database. */
  thumbprint: string | null;
  firstUsedAt: string;
  /** Checkpoints this key signed among those verified. */
  checkpoints: number;
}

export interface VerifyResult {
  ok: boolean;
  /** Events verified (up to the first break). */
  events: number;
  /** Checkpoints verified (up to the first break). */
  checkpoints: number;
  /** The last intact link walked. */
  head?: AuditChainHead;
  /** The newest checkpoint verified: events after it are protected by the chain alone. */
  lastCheckpointSeq?: number;
  /** Set when the chain starts after seq 1, from a checkpoint at this seq (events up to it were pruned). */
  anchorSeq?: number;
  keys: CheckpointKeyInfo[];
  firstBroken?: BrokenLink;
  /**
   * Calls forwarded under strict audit whose intent no later record closes: the upstream may have run them,
   * and how they ended is unknown (the replica stopped, or its store failed, before their outcome was
   * stored), or they are still running. Shown, never hidden; they do not make the chain broken.
   */
  unfinished: UnfinishedCall[];
}

export interface UnfinishedCall {
  seq: number;
  id: string;
  time: string;
  instance: string;
  method: string;
  upstream: string | null;
  target: string | null;
}

export interface VerifyOptions {
  /** Events (and checkpoints) read per page (default 5000). */
  pageSize?: number;
  now?: () => number;
}

/** Reads one ordered source in pages, with lookahead. */
class Pager<T extends { seq?: number }> {
  private buf: T[] = [];
  private pos = 0;
  private after: number;
  private done = false;

  constructor(
    private readonly read: (afterSeq: number, limit: number) => Promise<T[]>,
    private readonly pageSize: number,
    afterSeq = 0,
  ) {
    this.after = afterSeq;
  }

  /** The item `k` places ahead of the next one, reading more pages as needed. */
  async peek(k = 0): Promise<T | undefined> {
    while (this.pos + k >= this.buf.length && !this.done) {
      if (this.pos > this.pageSize) {
        this.buf = this.buf.slice(this.pos);
        this.pos = 0;
      }
      const page = await this.read(this.after, this.pageSize);
      if (page.length < this.pageSize) this.done = true;
      if (page.length > 0) this.after = page[page.length - 1]!.seq!;
      this.buf.push(...page);
    }
    return this.buf[this.pos + k];
  }

  async next(): Promise<T | undefined> {
    const item = await this.peek();
    if (item !== undefined) this.pos += 1;
    return item;
  }
}

export async function verifyAudit(store: Pick<Store, 'audit' | 'keys'>, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const pageSize = opts.pageSize ?? 5000;
  const { audit } = store;
  const recordedList = await audit.keys();
  const recorded = new Map(recordedList.map((k) => [k.kid, k]));
  const live = new Map((await store.keys.list(new Date((opts.now ?? Date.now)()).toISOString())).map((k) => [k.kid, k.publicJwk]));
  const signedBy = new Map<string, number>();
  const result: VerifyResult = { ok: true, events: 0, checkpoints: 0, keys: [], unfinished: [] };
  // Intents not yet closed, in chain order; a closed intent leaves, so this holds only calls in flight.
  const open = new Map<string, UnfinishedCall>();

  const events = new Pager<AuditEvent>((a, l) => audit.readChain(a, l), pageSize);
  let cps = new Pager<AuditCheckpoint>((a, l) => audit.checkpoints(a, l), pageSize);
  let expected = 1;
  let prevHash = GENESIS_HASH;
  let prevPrevHash: string | undefined;
  let lastGoodCp = 0;
  let broken: BrokenLink | undefined;

  const checkOwn = async (cp: AuditCheckpoint): Promise<BrokenLink | undefined> => {
    const problem = await checkCheckpoint(cp, recorded, live);
    return problem === undefined ? undefined : { seq: cp.seq, reason: 'bad-checkpoint', detail: `checkpoint at seq ${cp.seq}: ${problem}` };
  };

  const first = await events.peek();
  if (first?.seq !== undefined && first.seq > 1) {
    // A pruned log starts after a checkpoint: that checkpoint's hash is the anchor.
    cps = new Pager((a, l) => audit.checkpoints(a, l), pageSize, first.seq - 2);
    const anchor = await cps.peek();
    if (anchor?.seq === first.seq - 1 && (await checkOwn(anchor)) === undefined) {
      await cps.next();
      expected = first.seq;
      prevHash = anchor.hash;
      result.anchorSeq = anchor.seq;
      result.checkpoints += 1;
      signedBy.set(anchor.kid, (signedBy.get(anchor.kid) ?? 0) + 1);
    }
  }

  for (let row = await events.next(); row !== undefined && broken === undefined; row = await events.next()) {
    const seq = row.seq!;
    broken = seq > expected
      ? { seq: expected, reason: 'deleted', detail: `seq ${expected}${seq - 1 > expected ? `..${seq - 1}` : ''} missing: the next stored event is seq ${seq}` }
      : seq < expected
        ? { seq, reason: 'inserted', detail: `seq ${seq} appears again after seq ${expected - 1}` }
        : await classifyLink(row, prevHash, prevPrevHash, events, pageSize);
    if (broken !== undefined) break;
    for (let cp = await cps.peek(); cp !== undefined && cp.seq <= seq; cp = await cps.peek()) {
      await cps.next();
      broken = await checkOwn(cp);
      if (broken === undefined && cp.seq === seq && cp.hash !== row.hash) {
        broken = {
          seq: cp.seq,
          reason: 'bad-checkpoint',
          detail: `the signed checkpoint at seq ${cp.seq} does not match the chain: an event in seq ${lastGoodCp + 1}..${cp.seq} was rewritten and the hashes after it recomputed`,
        };
      }
      if (broken !== undefined) break;
      lastGoodCp = cp.seq;
      result.checkpoints += 1;
      signedBy.set(cp.kid, (signedBy.get(cp.kid) ?? 0) + 1);
    }
    if (broken !== undefined) break;
    prevPrevHash = prevHash;
    prevHash = row.hash!;
    if (row.outcome === 'intent') open.set(row.id, { seq, id: row.id, time: row.time, instance: row.instance, method: row.method, upstream: row.upstream, target: row.target });
    if (row.intentId) open.delete(row.intentId);
    result.events += 1;
    result.head = { seq, hash: row.hash! };
    expected = seq + 1;
  }

  if (broken === undefined) {
    // A checkpoint beyond the last event: signed events were removed from the end.
    const beyond = await cps.peek();
    // Unless the chain grew while it was walked (a checkpoint of events appended since then).
    const now = beyond === undefined ? undefined : await audit.head();
    if (beyond !== undefined && (now === undefined || now.seq < beyond.seq)) {
      broken = (await checkOwn(beyond)) ?? {
        seq: expected,
        reason: 'deleted',
        detail: `a signed checkpoint is at seq ${beyond.seq} but the chain ends at seq ${expected - 1}: events from seq ${expected} were removed`,
      };
    }
  }
  const unchained = await audit.firstUnchained();
  if (unchained !== undefined) {
    const at = unchained.nextSeq ?? expected;
    if (broken === undefined || at < broken.seq) {
      broken = { seq: at, reason: 'inserted', detail: `row ${unchained.id} has no place in the chain (no seq), stored before seq ${at} by id` };
    }
  }

  result.unfinished = [...open.values()];
  if (lastGoodCp > 0) result.lastCheckpointSeq = lastGoodCp;
  else if (result.anchorSeq !== undefined) result.lastCheckpointSeq = result.anchorSeq;
  result.keys = await Promise.all(
    recordedList.map(async (k) => ({
      kid: k.kid,
      alg: k.alg,
      thumbprint: (await thumbprint(k.publicJwk)) ?? null,
      firstUsedAt: k.firstUsedAt,
      checkpoints: signedBy.get(k.kid) ?? 0,
    })),
  );
  if (broken !== undefined) {
    result.ok = false;
    result.firstBroken = broken;
  }
  return result;
}

/** Checks one event against its predecessor's hash; classifies the break, looking ahead when that helps. */
async function classifyLink(
  row: AuditEvent,
  prevHash: string,
  prevPrevHash: string | undefined,
  events: Pager<AuditEvent>,
  window: number,
): Promise<BrokenLink | undefined> {
  const seq = row.seq!;
  const content = eventContent(row);
  const selfOk = linkHash(row.prevHash!, content) === row.hash;
  const linkOk = row.prevHash === prevHash;
  if (selfOk && linkOk) return undefined;
  const next = await events.peek();

  if (!selfOk) {
    // Content that hashes correctly at a later link was moved here from there.
    for (let k = 0; k < window; k++) {
      const later = await events.peek(k);
      if (later === undefined) break;
      if (linkHash(later.prevHash!, content) === later.hash) {
        return { seq, reason: 'reordered', detail: `seq ${seq} holds the event stored at seq ${later.seq} (id ${row.id})` };
      }
    }
    if (eventHash(prevHash, row) === row.hash) return { seq, reason: 'modified', detail: `seq ${seq}: its prev_hash was changed` };
    if (!linkOk && (next === undefined || next.prevHash === prevHash)) {
      return { seq, reason: 'inserted', detail: `seq ${seq} (id ${row.id}) is not part of the chain: neither its hash nor its link is valid` };
    }
    return { seq, reason: 'modified', detail: `seq ${seq} (id ${row.id}) was modified: its content does not match its hash` };
  }

  // Intact in itself, but not linked to the event before it.
  for (let k = 0; k < window; k++) {
    const later = await events.peek(k);
    if (later === undefined) break;
    if (later.hash === row.prevHash) {
      return { seq, reason: 'reordered', detail: `seq ${seq} (id ${row.id}) belongs after seq ${later.seq}` };
    }
  }
  if (prevPrevHash !== undefined && row.prevHash === prevPrevHash) {
    return { seq: seq - 1, reason: 'inserted', detail: `seq ${seq - 1} is not part of the chain: seq ${seq} links to seq ${seq - 2}` };
  }
  if (next === undefined || next.prevHash === prevHash) {
    return { seq, reason: 'inserted', detail: `seq ${seq} (id ${row.id}) does not link to seq ${seq - 1}` };
  }
  return {
    seq,
    reason: 'deleted',
    detail: `seq ${seq} (id ${row.id}) does not link to seq ${seq - 1}: events before it were removed and the rest renumbered, or seq ${seq - 1} was rewritten`,
  };
}
