/**
 * The secrets vault: envelope-encrypted values in a SecretStore, scoped by tenant, environment and upstream.
 * It refuses to open when stored rows are wrapped by a master key it was not given, so a wrong key can
 * neither read nor write; reads and writes check again, since another replica may rotate meanwhile.
 *
 *   const vault = await Vault.open(store.secrets, { current: key })
 *   await vault.set({ name: 'github/token', tenant: 'acme' }, 'ghp_...')   // { version: 1 }
 *   const value = await vault.get({ name: 'github/token', tenant: 'acme' }) // Buffer: zero it after use
 *   value.fill(0)
 */
import { randomBytes } from 'node:crypto';
import type { SecretMetadata, SecretStore } from '../store/types.js';
import { openSecret, sealSecret, type MasterKey, type Random } from './envelope.js';
import { InvalidSecretValue, SecretConflict, SecretNotFound, WrongMasterKey } from './errors.js';
import { checkMasterKey, masterKeyId } from './master-key.js';
import { describeSecret, toFilter, toIdentity, type SecretListFilter, type SecretRef } from './ref.js';
import { rewrapAll, type RotateOptions, type RotateResult } from './rotate.js';

export interface VaultKeys {
  /** Wraps every new data key, and every re-wrapped one. */
  current: Buffer;
  /** Keys still accepted for reading rows they wrapped (during and before a master key rotation). */
  previous?: Buffer[];
}

export interface VaultOptions {
  clock?: () => Date;
  random?: Random;
  /** Largest value accepted, in bytes (default 64 KiB). */
  maxValueBytes?: number;
}

export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024;
const MAX_WRITE_ATTEMPTS = 5;

/** Metadata of stored secrets (no values, no key needed): what `Vault#list` and `warden secret list` show. */
export function listSecrets(store: SecretStore, filter?: SecretListFilter): Promise<SecretMetadata[]> {
  return store.list(toFilter(filter));
}

export class Vault {
  private constructor(
    private readonly store: SecretStore,
    private readonly current: MasterKey,
    private readonly keys: Map<string, MasterKey>,
    private readonly opts: Required<VaultOptions>,
  ) {}

  /** Checks the keys against the stored rows. Throws MasterKeyInvalid, or WrongMasterKey with nothing read or written. */
  static async open(store: SecretStore, keys: VaultKeys, opts: VaultOptions = {}): Promise<Vault> {
    checkMasterKey(keys.current, 'the current master key');
    (keys.previous ?? []).forEach((k, i) => checkMasterKey(k, `previous master key ${i + 1}`));
    // Copies: the caller may zero its buffers; close() zeroes these.
    const current = { id: masterKeyId(keys.current), key: Buffer.from(keys.current) };
    const all = new Map<string, MasterKey>([[current.id, current]]);
    for (const k of keys.previous ?? []) {
      const id = masterKeyId(k);
      if (!all.has(id)) all.set(id, { id, key: Buffer.from(k) });
    }
    const vault = new Vault(store, current, all, {
      clock: opts.clock ?? (() => new Date()),
      random: opts.random ?? randomBytes,
      maxValueBytes: opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
    });
    try {
      await vault.assertKeysMatch();
    } catch (err) {
      vault.close();
      throw err;
    }
    return vault;
  }

  /**
   * Re-wraps every data key under `newKey`, reading rows wrapped by `oldKey` (or any of several old keys).
   * Readers given both keys keep working throughout; once it returns, `oldKey` alone opens nothing.
   */
  static async rotateMasterKey(store: SecretStore, oldKey: Buffer | Buffer[], newKey: Buffer, opts: RotateOptions & VaultOptions = {}): Promise<RotateResult> {
    const vault = await Vault.open(store, { current: newKey, previous: Array.isArray(oldKey) ? oldKey : [oldKey] }, opts);
    try {
      return await vault.rotateMasterKey(opts);
    } finally {
      vault.close();
    }
  }

  /** The id of the master key new data keys are wrapped by. */
  get keyId(): string {
    return this.current.id;
  }

  /** Stores `value` as the next version of the secret (1 if new). A string value is encoded as UTF-8. */
  set(ref: SecretRef, value: Buffer | string): Promise<{ version: number }> {
    return this.write(ref, value, false);
  }

  /** Like set, but the secret must exist: a new version of it. Throws SecretNotFound. */
  rotate(ref: SecretRef, value: Buffer | string): Promise<{ version: number }> {
    return this.write(ref, value, true);
  }

  /** The latest version's value. Throws SecretNotFound, WrongMasterKey or SecretTampered; never a partial value. */
  async get(ref: SecretRef): Promise<Buffer> {
    const id = toIdentity(ref);
    const record = await this.store.latest(id);
    if (record === undefined) throw new SecretNotFound(`no secret ${describeSecret(id)}`);
    const master = this.keys.get(record.keyId);
    if (master === undefined) {
      throw new WrongMasterKey(`secret ${describeSecret(id)} is wrapped by master key ${record.keyId}, which is not one of the keys given (${this.keyList()})`);
    }
    return openSecret(record, master);
  }

  /** Metadata of the latest version of each matching secret: never a value. */
  list(filter?: SecretListFilter): Promise<SecretMetadata[]> {
    return listSecrets(this.store, filter);
  }

  /** Deletes every version of a secret; false if there was none. */
  async remove(ref: SecretRef): Promise<boolean> {
    const id = toIdentity(ref);
    await this.assertKeysMatch();
    return (await this.store.remove(id)) > 0;
  }

  /** Re-wraps every data key not yet wrapped by the current key (see rotate.ts). Resumable. */
  async rotateMasterKey(opts: RotateOptions = {}): Promise<RotateResult> {
    await this.assertKeysMatch();
    return rewrapAll(
      {
        store: this.store,
        current: this.current,
        keyFor: (id) => this.keys.get(id),
        now: () => this.opts.clock().toISOString(),
        random: this.opts.random,
      },
      opts,
    );
  }

  /** Zeroes the vault's copies of the master keys; it is unusable afterwards. */
  close(): void {
    for (const k of this.keys.values()) k.key.fill(0);
  }

  private async write(ref: SecretRef, value: Buffer | string, mustExist: boolean): Promise<{ version: number }> {
    const id = toIdentity(ref);
    const plain = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    try {
      if (!Buffer.isBuffer(plain) || plain.length === 0) throw new InvalidSecretValue('a secret value must not be empty');
      if (plain.length > this.opts.maxValueBytes) {
        throw new InvalidSecretValue(`a secret value must be at most ${this.opts.maxValueBytes} bytes (this one is ${plain.length})`);
      }
      await this.assertKeysMatch();
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const latest = await this.store.latest(id);
        if (latest === undefined && mustExist) throw new SecretNotFound(`no secret ${describeSecret(id)} to rotate: use set to create it`);
        const version = (latest?.version ?? 0) + 1;
        const envelope = sealSecret(id, version, plain, this.current, this.opts.random);
        const now = this.opts.clock().toISOString();
        // false: another writer stored this version first; take the next number.
        if (await this.store.insert({ ...id, version, ...envelope, createdAt: now, updatedAt: now })) return { version };
      }
      throw new SecretConflict(`secret ${describeSecret(id)}: other writers kept taking the next version; try again`);
    } finally {
      if (plain !== value) plain.fill(0);
    }
  }

  /** Throws WrongMasterKey when any stored row is wrapped by a master key this vault was not given. */
  private async assertKeysMatch(): Promise<void> {
    const stored = await this.store.keyIds();
    const unknown = stored.filter((s) => !this.keys.has(s.keyId));
    if (unknown.length === 0) return;
    const which = unknown.map((u) => `${u.keyId} (${u.rows} secret version${u.rows === 1 ? '' : 's'})`).join(', ');
    throw new WrongMasterKey(
      `wrong master key: stored secrets are wrapped by master key ${which}, not by any key given (${this.keyList()}); nothing was read or written`,
    );
  }

  private keyList(): string {
    return [...this.keys.keys()].map((id) => (id === this.current.id ? `${id} current` : `${id} previous`)).join(', ');
  }
}
