/** The credentials module's public surface: the secrets vault, its master keys and its errors. */
export { leaseReferences } from './leases/manager.js';
export { Vault, listSecrets, DEFAULT_MAX_VALUE_BYTES, type VaultKeys, type VaultOptions } from './vault.js';
export type { RotateOptions, RotateResult } from './rotate.js';
export { Redactor, MIN_REDACTED_LENGTH, type InjectedSecret } from './redactor.js';
export { describeScope, describeSecret, toIdentity, type SecretListFilter, type SecretRef } from './ref.js';
export { masterKeyId, parseMasterKey, readMasterKeyFile, checkMasterKey, MASTER_KEY_BYTES } from './master-key.js';
export { MasterKeyRing } from './key-ring.js';
export { sealEnvelope, openEnvelope, type Envelope, type EnvelopeBinding, type MasterKey } from './envelope.js';
export {
  loadMasterKeys,
  loadNewMasterKey,
  MASTER_KEY_ENV,
  NEW_MASTER_KEY_ENV,
  PREVIOUS_MASTER_KEY_ENV,
  type KeySources,
  type MasterKeys,
} from './key-source.js';
export {
  VaultError,
  MasterKeyMissing,
  MasterKeyInvalid,
  WrongMasterKey,
  SecretTampered,
  SecretNotFound,
  InvalidSecretRef,
  InvalidSecretValue,
  SecretConflict,
  type VaultErrorCode,
} from './errors.js';
export type { SecretMetadata } from '../store/types.js';
export { UserOAuth, ConnectFailure, CONNECTIONS_PATH, connectUrl, connectionsUrl, type OAuthEvent, type Owner } from './user-oauth/manager.js';
export { UserKeys } from './user-oauth/user-keys.js';
