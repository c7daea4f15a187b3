/**
 * Master key rotation: every data key not yet wrapped by the current master key is unwrapped with the key
 * that wrapped it and wrapped again by the current one. Values are not decrypted. Rows are read in batches
 * and each is replaced atomically by a compare-and-set, so readers always see a whole row (old wrap or new)
 * and, holding both keys, read either; stopping half way leaves a consistent store, and running again resumes.
 */
import type { SecretStore } from '../store/types.js';
import { rewrapDataKey, type MasterKey, type Random } from './envelope.js';
import { SecretConflict, WrongMasterKey } from './errors.js';
import { describeSecret } from './ref.js';

export interface RotateOptions {
  /** Rows read per batch (default 100). */
  batchSize?: number;
  /** Called after each batch: how many rows this run has re-wrapped so far. */
  onBatch?: (progress: { rewrapped: number }) => void | Promise<void>;
}

export interface RotateResult {
  /** Rows re-wrapped by this run. */
  rewrapped: number;
  /** The master key id every row is wrapped by now. */
  keyId: string;
}

export interface RewrapContext {
  store: SecretStore;
  current: MasterKey;
  /** The master key with this id, if it was given. */
  keyFor: (keyId: string) => MasterKey | undefined;
  now: () => string;
  random: Random;
}

/** A batch that changes nothing this many times in a row means rows are changing under us faster than we re-wrap. */
const MAX_IDLE_BATCHES = 3;

export async function rewrapAll(ctx: RewrapContext, opts: RotateOptions = {}): Promise<RotateResult> {
  const batchSize = opts.batchSize ?? 100;
  let rewrapped = 0;
  let idle = 0;
  for (;;) {
    const page = await ctx.store.wrappedByOther(ctx.current.id, batchSize);
    if (page.length === 0) return { rewrapped, keyId: ctx.current.id };
    let changed = 0;
    for (const row of page) {
      const from = ctx.keyFor(row.keyId);
      if (from === undefined) {
        throw new WrongMasterKey(
          `secret ${describeSecret(row)} version ${row.version} is wrapped by master key ${row.keyId}, which was not given: ` +
            `give it as the old key to resume (${rewrapped} rows re-wrapped so far, nothing else changed)`,
        );
      }
      const wrapped = rewrapDataKey(row, from, ctx.current, ctx.random);
      // false: a concurrent rotation or a rewrite replaced the row first; the next batch sees what it is now.
      if (await ctx.store.rewrap(row, ctx.current.id, wrapped, ctx.now())) changed += 1;
    }
    rewrapped += changed;
    idle = changed === 0 ? idle + 1 : 0;
    if (idle >= MAX_IDLE_BATCHES) throw new SecretConflict('master key rotation made no progress: rows keep changing under it; run it again');
    await opts.onBatch?.({ rewrapped });
  }
}
