/**
 * The master keys a process holds, by id: the current one (which wraps everything new) and the previous ones
 * still accepted for opening what they wrapped (during a master key rotation). Copies of the buffers given,
 * zeroed by close(). What vault secrets, sealed calls and signing keys are opened with.
 *
 *   const ring = MasterKeyRing.from(loadMasterKeys(sources))
 *   ring.current.id          // '3f1c0a9d52e7b846'
 *   ring.get(row.keyId)      // the MasterKey, or undefined when it was not given
 */
import type { MasterKey } from './envelope.js';
import { checkMasterKey, masterKeyId } from './master-key.js';
import type { MasterKeys } from './key-source.js';

export class MasterKeyRing {
  private constructor(
    readonly current: MasterKey,
    private readonly keys: Map<string, MasterKey>,
  ) {}

  static from(keys: MasterKeys): MasterKeyRing {
    checkMasterKey(keys.current, 'the current master key');
    keys.previous.forEach((k, i) => checkMasterKey(k, `previous master key ${i + 1}`));
    const current = { id: masterKeyId(keys.current), key: Buffer.from(keys.current) };
    const all = new Map([[current.id, current]]);
    for (const k of keys.previous) {
      const id = masterKeyId(k);
      if (!all.has(id)) all.set(id, { id, key: Buffer.from(k) });
    }
    return new MasterKeyRing(current, all);
  }

  get(keyId: string): MasterKey | undefined {
    return this.keys.get(keyId);
  }

  /** The ids given, current first: for messages (ids are fingerprints, safe to print). */
  ids(): string[] {
    return [...this.keys.keys()];
  }

  close(): void {
    for (const k of this.keys.values()) k.key.fill(0);
  }
}
