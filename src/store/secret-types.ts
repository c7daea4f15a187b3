/** Secret store interfaces: envelope-encrypted secrets by scope and version. */

/** Where a secret applies. null: unscoped in that dimension. Scope strings are never empty. */
export interface SecretIdentity {
  name: string;
  tenant: string | null;
  environment: string | null;
  upstream: string | null;
}

/** What `list` shows of a secret: its latest version's metadata, never its value or key material. */
export interface SecretMetadata extends SecretIdentity {
  /** The latest version (1 for a new secret, n+1 after each rotation). */
  version: number;
  /** Fingerprint of the master key that wrapped the latest version's data key (never the key). */
  keyId: string;
  /** ISO-8601: when version 1 still stored was written, and when the latest version was. */
  createdAt: string;
  updatedAt: string;
}

/** One stored version of a secret: an envelope (see src/credentials/envelope.ts). Never the plaintext. */
export interface SecretRecord extends SecretIdentity {
  version: number;
  keyId: string;
  /** The data key wrapped by the master key: its IV, ciphertext and tag, concatenated. */
  wrappedKey: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  /** ISO-8601: when this version was written, and when the row last changed (a re-wrap). */
  createdAt: string;
  updatedAt: string;
}

/** A version's wrapped data key, as master key rotation reads and compares it. */
export type SecretWrap = SecretIdentity & Pick<SecretRecord, 'version' | 'keyId' | 'wrappedKey'>;

/** Each field given must match exactly; null matches only unscoped rows. */
export interface SecretFilter {
  name?: string;
  tenant?: string | null;
  environment?: string | null;
  upstream?: string | null;
}

export interface SecretStore {
  /** The highest stored version of a secret, or undefined. */
  latest(id: SecretIdentity): Promise<SecretRecord | undefined>;
  /** Stores a new version; false (nothing written) when that identity and version exist already. */
  insert(record: SecretRecord): Promise<boolean>;
  /** The latest version of every secret matching the filter, by name then scope. */
  list(filter?: SecretFilter): Promise<SecretMetadata[]>;
  /** Deletes every version of a secret; returns how many rows went. */
  remove(id: SecretIdentity): Promise<number>;
  /** Every master key id that wraps a stored row, with how many rows, by id. */
  keyIds(): Promise<{ keyId: string; rows: number }[]>;
  /** Up to `limit` rows whose data key is wrapped by a master key other than `keyId`, in a stable order. */
  wrappedByOther(keyId: string, limit: number): Promise<SecretWrap[]>;
  /**
   * Replaces one row's wrapped data key, atomically and only if it still holds `from`'s key id and wrapped
   * key (a compare-and-set: a concurrent rotation or a rewritten row is left alone). True if it changed.
   */
  rewrap(from: SecretWrap, keyId: string, wrappedKey: Buffer, updatedAt: string): Promise<boolean>;
}
