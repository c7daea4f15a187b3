/**
 * Vault errors: one named class per failure, each with a stable code, as jose does. Messages name what is
 * missing, malformed or refused; they never hold a secret value, a data key or master key material (a
 * master key id is a fingerprint, safe to print).
 */
export type VaultErrorCode =
  | 'vault_master_key_missing'
  | 'vault_master_key_invalid'
  | 'vault_wrong_master_key'
  | 'vault_tampered'
  | 'vault_not_found'
  | 'vault_invalid_ref'
  | 'vault_invalid_value'
  | 'vault_conflict';

export class VaultError extends Error {
  override readonly name: string = 'VaultError';
  constructor(
    readonly code: VaultErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The HTTP status of a request that failed with this error: only bad input is the caller's fault. */
  get status(): number {
    if (this.code === 'vault_not_found') return 404;
    if (this.code === 'vault_invalid_ref' || this.code === 'vault_invalid_value') return 400;
    if (this.code === 'vault_conflict') return 409;
    return 500;
  }
}

/** No master key was configured: neither WARDEN_MASTER_KEY nor vault.masterKeyFile. */
export class MasterKeyMissing extends VaultError {
  override readonly name = 'MasterKeyMissing';
  constructor(message: string) {
    super('vault_master_key_missing', message);
  }
}

/** A master key is not 32 bytes in hex, base64 or raw form, or its file cannot be read. */
export class MasterKeyInvalid extends VaultError {
  override readonly name = 'MasterKeyInvalid';
  constructor(message: string) {
    super('vault_master_key_invalid', message);
  }
}

/** Stored rows are wrapped by a master key none of the given keys is. Nothing was read or written. */
export class WrongMasterKey extends VaultError {
  override readonly name = 'WrongMasterKey';
  constructor(message: string) {
    super('vault_wrong_master_key', message);
  }
}

/** A stored envelope failed authentication: a changed byte, a moved row, a changed identity field. */
export class SecretTampered extends VaultError {
  override readonly name = 'SecretTampered';
  constructor(message: string) {
    super('vault_tampered', message);
  }
}

export class SecretNotFound extends VaultError {
  override readonly name = 'SecretNotFound';
  constructor(message: string) {
    super('vault_not_found', message);
  }
}

/** A secret name or scope that is empty, too long, or has characters a reference cannot carry. */
export class InvalidSecretRef extends VaultError {
  override readonly name = 'InvalidSecretRef';
  constructor(message: string) {
    super('vault_invalid_ref', message);
  }
}

/** An empty or oversized secret value. */
export class InvalidSecretValue extends VaultError {
  override readonly name = 'InvalidSecretValue';
  constructor(message: string) {
    super('vault_invalid_value', message);
  }
}

/** Concurrent writers kept taking the next version number. */
export class SecretConflict extends VaultError {
  override readonly name = 'SecretConflict';
  constructor(message: string) {
    super('vault_conflict', message);
  }
}
