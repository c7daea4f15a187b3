/**
 * Signed checkpoints of the audit chain: a compact JWS, made with the gateway's signing key, over the
 * canonical JSON of { seq, hash, createdAt, instance }. A checkpoint pins the chain up to `seq`: rewriting
 * any event at or before it, even with every later hash recomputed, no longer matches a signature.
 *
 * Trust model, stated plainly: the store holds the events, the checkpoints, and the public keys that verify
 * them (in the checkpoint row, and in warden_audit_keys, which is never pruned). A database administrator who
 * can rewrite rows can also re-sign a rewritten chain with a key of their own and record that key. What they
 * cannot do is make it the same key: `audit verify` prints each checkpoint key's RFC 7638 thumbprint, and
 * comparing those with a copy kept outside the database (the gateway logs them when it first signs) is what
 * anchors the chain. Events after the newest checkpoint are protected only by the chain itself: they can be
 * truncated, or re-hashed after a rewrite, without a signature noticing.
 *
 *   const cp = new Checkpointer({ audit: store.audit, keys: new SigningKeys(store.keys, ring, 'ES256', 24 * 3600_000, 3600_000), log, instance });
 *   cp.start();                              // the T-second timer
 *   cp.maybeCheckpoint(batch.length);        // after each append batch; never throws, never awaited
 *   await cp.stop();                         // at shutdown: a last checkpoint of the head
 */
import { calculateJwkThumbprint, compactVerify, importJWK, type JWK } from 'jose';
import { signCompact, type SignerSource } from '../identity/signer.js';
import type { AuditCheckpoint, AuditKeyRecord, AuditStore } from '../store/types.js';
import type { Logger } from '../telemetry/log.js';
import { canonicalJson } from './digest.js';

/** The JWS `typ`: a checkpoint cannot pass for a gateway token (`at+jwt`), nor a token for a checkpoint. */
export const CHECKPOINT_TYP = 'warden-audit-checkpoint';
export const CHECKPOINT_ALGORITHMS = ['ES256', 'EdDSA'];
export const DEFAULT_CHECKPOINT_EVENTS = 1000;
export const DEFAULT_CHECKPOINT_SECONDS = 60;

/** What a checkpoint signs: the row's fields other than the key and the signature. */
function signedContent(c: Pick<AuditCheckpoint, 'seq' | 'hash' | 'createdAt' | 'instance'>): string {
  return canonicalJson({ seq: c.seq, hash: c.hash, createdAt: c.createdAt, instance: c.instance });
}

/** The public members of a JWK (the published set adds kid, alg and use; a private one adds d). */
export function publicMembers(jwk: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['kty', 'crv', 'x', 'y', 'n', 'e']) if (jwk[k] !== undefined) out[k] = jwk[k];
  return out;
}

/** The RFC 7638 thumbprint (base64url SHA-256), or undefined for a JWK that is not a public key. */
export async function thumbprint(jwk: Record<string, unknown>): Promise<string | undefined> {
  try {
    return await calculateJwkThumbprint(jwk as JWK, 'sha256');
  } catch {
    return undefined;
  }
}

/**
 * Checks a checkpoint's own integrity, not yet its hash against the chain: its kid must be a recorded
 * checkpoint key (`recorded`) with the same public key, and the same as the store's signing key of that kid
 * while one is still there (`live`); its JWS must verify under that key, with this kid and typ, over exactly
 * the row's seq, hash, createdAt and instance. Returns what is wrong, or undefined.
 */
export async function checkCheckpoint(
  c: AuditCheckpoint,
  recorded: ReadonlyMap<string, AuditKeyRecord>,
  live: ReadonlyMap<string, Record<string, unknown>>,
): Promise<string | undefined> {
  const key = recorded.get(c.kid);
  if (key === undefined) return `signed with key ${c.kid}, which is not a recorded checkpoint key`;
  const tp = await thumbprint(c.publicJwk);
  if (tp === undefined || tp !== (await thumbprint(key.publicJwk))) return `its public key is not the recorded key ${c.kid}`;
  const current = live.get(c.kid);
  if (current !== undefined && (await thumbprint(current)) !== tp) return `its public key is not the store's signing key ${c.kid}`;
  let verified;
  try {
    const publicKey = await importJWK(c.publicJwk as JWK, key.alg);
    verified = await compactVerify(c.signature, publicKey, { algorithms: [key.alg] });
  } catch (err) {
    return `its signature does not verify (${(err as Error).message})`;
  }
  const { kid, typ } = verified.protectedHeader;
  if (kid !== c.kid || typ !== CHECKPOINT_TYP) return `its signature header names kid ${String(kid)} and typ ${String(typ)}`;
  if (new TextDecoder().decode(verified.payload) !== signedContent(c)) return 'its signed content differs from the stored seq, hash, time or instance';
  return undefined;
}

export interface CheckpointerOptions {
  audit: AuditStore;
  /** The gateway's signing keys (SigningKeys, or an external signer behind the same seam). */
  keys: SignerSource;
  log: Logger;
  /** The gateway instance, recorded in each checkpoint. */
  instance: string;
  /** Checkpoint once this many events were appended since the last checkpoint (default 1000). */
  everyEvents?: number;
  /** ... or once this many seconds have passed with events to cover (default 60). */
  everySeconds?: number;
  now?: () => number;
}

/**
 * Makes checkpoints off the request path. `maybeCheckpoint()` counts appended events and, when N events or
 * T seconds are due, starts one in the background; a failure is logged, never thrown, and retried when the
 * next one is due. The decision is chain-wide: with several replicas, a checkpoint is skipped when the last
 * one in the store (whoever made it) is recent enough, and two replicas signing the same head store one.
 */
export class Checkpointer {
  private readonly everyEvents: number;
  private readonly everyMs: number;
  private readonly now: () => number;
  private pending = 0;
  private lastAt: number;
  private running: Promise<unknown> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly published = new Map<string, Record<string, unknown>>();

  constructor(private readonly opts: CheckpointerOptions) {
    this.everyEvents = Math.max(1, opts.everyEvents ?? DEFAULT_CHECKPOINT_EVENTS);
    this.everyMs = Math.max(1, opts.everySeconds ?? DEFAULT_CHECKPOINT_SECONDS) * 1000;
    this.now = opts.now ?? Date.now;
    this.lastAt = this.now();
  }

  /** Counts `appended` events; starts a checkpoint in the background when one is due. Never throws. */
  maybeCheckpoint(appended = 0): void {
    this.pending += appended;
    if (this.running !== undefined || this.pending === 0) return;
    if (this.pending < this.everyEvents && this.now() - this.lastAt < this.everyMs) return;
    this.running = this.checkpoint()
      .catch((err: unknown) => this.logFailure(err))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Resolves when no checkpoint is in flight. */
  async whenIdle(): Promise<void> {
    await this.running;
  }

  /** Runs the T-second timer (unref'd: it never keeps the process alive). */
  start(): void {
    this.timer ??= setInterval(() => this.maybeCheckpoint(), Math.min(this.everyMs, 5000));
    this.timer.unref();
  }

  /** Stops the timer, waits for a checkpoint in flight, and checkpoints the head if it moved. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.pending > 0) await this.checkpoint(true).catch((err: unknown) => this.logFailure(err));
  }

  /**
   * Signs and stores a checkpoint of the chain head. Unless `force`, skips it when the store's newest
   * checkpoint is fewer than N events and T seconds behind. Returns the checkpoint stored, if any.
   */
  async checkpoint(force = false): Promise<AuditCheckpoint | undefined> {
    const { audit, keys } = this.opts;
    this.pending = 0;
    this.lastAt = this.now();
    const head = await audit.head();
    if (head === undefined) return undefined;
    const last = await audit.lastCheckpoint();
    if (last !== undefined && last.seq >= head.seq) return undefined;
    const recent = last !== undefined && head.seq - last.seq < this.everyEvents && this.lastAt - Date.parse(last.createdAt) < this.everyMs;
    if (recent && !force) return undefined;
    const key = await keys.current();
    const publicJwk = await this.publicJwk(key.kid, key.alg);
    const content = { seq: head.seq, hash: head.hash, createdAt: new Date(this.lastAt).toISOString(), instance: this.opts.instance };
    const signature = await signCompact(key, { typ: CHECKPOINT_TYP }, new TextEncoder().encode(signedContent(content)));
    const checkpoint: AuditCheckpoint = { ...content, kid: key.kid, publicJwk, signature };
    return (await audit.addCheckpoint(checkpoint)) ? checkpoint : undefined;
  }

  private logFailure(err: unknown): void {
    this.opts.log.error({ err: (err as Error).message }, 'audit checkpoint could not be made');
  }

  /** The public JWK of `kid`, recorded as a checkpoint key (and its thumbprint logged) the first time it signs. */
  private async publicJwk(kid: string, alg: string): Promise<Record<string, unknown>> {
    const known = this.published.get(kid);
    if (known !== undefined) return known;
    const jwk = (await this.opts.keys.publicJwks()).keys.find((k) => k.kid === kid);
    if (jwk === undefined) throw new Error(`signing key ${kid} is not published`);
    const publicJwk = publicMembers(jwk as Record<string, unknown>);
    await this.opts.audit.registerKey({ kid, alg, publicJwk, firstUsedAt: new Date(this.now()).toISOString() });
    this.opts.log.info({ kid, thumbprint: await thumbprint(publicJwk) }, 'audit checkpoint key');
    this.published.set(kid, publicJwk);
    return publicJwk;
  }
}

/**
 * The audit store with `cp.maybeCheckpoint(n)` after each successful append: hand it to AuditRecorder in
 * place of the store's own, and every committed batch is counted without touching the request path.
 */
export function withCheckpoints(audit: AuditStore, cp: Checkpointer): AuditStore {
  // Everything but append is the store's own (by prototype), so the wrapper cannot fall behind the interface.
  const wrapped = Object.create(audit) as AuditStore;
  wrapped.append = async (events) => {
    await audit.append(events);
    cp.maybeCheckpoint(events.length);
  };
  return wrapped;
}
