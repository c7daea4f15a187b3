/**
 * Envelope encryption, as small pure functions. Each secret version is encrypted with its own random 256-bit
 * data key (AES-256-GCM, random 96-bit IV, 128-bit tag); the data key is wrapped by a master key (AES-256-GCM
 * again, its own IV). Both AADs bind the ciphertext to the secret's identity (name, tenant, environment,
 * upstream, version) and the wrap also to the master key id, so an envelope moved to another row, or a row
 * whose identity was edited, fails authentication. Any failure is SecretTampered and returns no bytes.
 *
 *   const env = sealSecret(id, 1, Buffer.from('s3cret'), master)   // store it
 *   const value = openSecret({ ...id, version: 1, ...env }, master) // Buffer, zero it after use
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretIdentity, SecretRecord, SecretWrap } from '../store/types.js';
import { SecretTampered } from './errors.js';
import { describeSecret } from './ref.js';

export interface MasterKey {
  /** masterKeyId(key): what rows record. */
  id: string;
  key: Buffer;
}

export type Envelope = Pick<SecretRecord, 'keyId' | 'wrappedKey' | 'iv' | 'ciphertext' | 'tag'>;
export type Random = (bytes: number) => Buffer;

const ALG = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A wrapped data key: IV, encrypted key and tag, concatenated. */
export const WRAPPED_KEY_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;

/** The AAD of a secret's value: its identity and version, in an unambiguous encoding. */
export function secretAad(id: SecretIdentity, version: number): Buffer {
  return Buffer.from(JSON.stringify(['mcp-warden/vault/secret/v1', id.name, id.tenant, id.environment, id.upstream, version]));
}

/** The AAD of a wrapped data key: the wrapping master key's id, and the secret's identity and version. */
export function wrapAad(keyId: string, id: SecretIdentity, version: number): Buffer {
  return Buffer.from(JSON.stringify(['mcp-warden/vault/wrap/v1', keyId, id.name, id.tenant, id.environment, id.upstream, version]));
}

function encrypt(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv(ALG, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const ciphertext = Buffer.concat([head, tail]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/** Decrypts and authenticates; on any failure zeroes what was decrypted and returns undefined. */
function decrypt(key: Buffer, iv: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | undefined {
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
  const decipher = createDecipheriv(ALG, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  // GCM releases bytes from update() before final() has checked the tag: they are kept only if it passes.
  const head = decipher.update(ciphertext);
  try {
    const tail = decipher.final();
    const out = Buffer.concat([head, tail]);
    tail.fill(0);
    return out;
  } catch {
    return undefined;
  } finally {
    head.fill(0);
  }
}

/** What an envelope is bound to: the AAD of its value, and the AAD of its wrapped data key under a master key id. */
export interface EnvelopeBinding {
  value: Buffer;
  wrap: (keyId: string) => Buffer;
}

/** The binding of one version of a vault secret. */
const secretBinding = (id: SecretIdentity, version: number): EnvelopeBinding => ({ value: secretAad(id, version), wrap: (keyId) => wrapAad(keyId, id, version) });

function wrapWith(dataKey: Buffer, binding: EnvelopeBinding, master: MasterKey, random: Random): Buffer {
  const iv = random(IV_BYTES);
  const { ciphertext, tag } = encrypt(master.key, iv, binding.wrap(master.id), dataKey);
  return Buffer.concat([iv, ciphertext, tag]);
}

/** The data key of a wrapped key, or undefined when it fails authentication. */
function unwrapWith(b: Buffer, binding: EnvelopeBinding, master: MasterKey): Buffer | undefined {
  const key =
    b.length === WRAPPED_KEY_BYTES
      ? decrypt(master.key, b.subarray(0, IV_BYTES), binding.wrap(master.id), b.subarray(IV_BYTES, IV_BYTES + KEY_BYTES), b.subarray(IV_BYTES + KEY_BYTES))
      : undefined;
  if (key !== undefined && key.length === KEY_BYTES) return key;
  key?.fill(0);
  return undefined;
}

/**
 * Encrypts `value` under a fresh data key wrapped by `master`, both bound to `binding`. The envelope of any
 * sensitive record the gateway keeps (vault secrets, the calls approvers are shown).
 */
export function sealEnvelope(binding: EnvelopeBinding, value: Buffer, master: MasterKey, random: Random = randomBytes): Envelope {
  const dataKey = random(KEY_BYTES);
  try {
    const iv = random(IV_BYTES);
    const { ciphertext, tag } = encrypt(dataKey, iv, binding.value, value);
    return { keyId: master.id, wrappedKey: wrapWith(dataKey, binding, master, random), iv, ciphertext, tag };
  } finally {
    dataKey.fill(0);
  }
}

/** Decrypts an envelope sealed with `binding` by `master` (the caller matched its key id); undefined when any part fails authentication. */
export function openEnvelope(e: Envelope, binding: EnvelopeBinding, master: MasterKey): Buffer | undefined {
  const dataKey = unwrapWith(e.wrappedKey, binding, master);
  if (dataKey === undefined) return undefined;
  try {
    return decrypt(dataKey, e.iv, binding.value, e.ciphertext, e.tag);
  } finally {
    dataKey.fill(0);
  }
}

/** Wraps a data key under a master key. */
export function wrapDataKey(dataKey: Buffer, id: SecretIdentity, version: number, master: MasterKey, random: Random = randomBytes): Buffer {
  return wrapWith(dataKey, secretBinding(id, version), master, random);
}

/** Unwraps the data key of a row wrapped by `master` (the caller matched its key id). Throws SecretTampered. */
export function unwrapDataKey(w: SecretWrap, master: MasterKey): Buffer {
  const key = unwrapWith(w.wrappedKey, secretBinding(w, w.version), master);
  if (key === undefined) throw new SecretTampered(`secret ${describeSecret(w)} version ${w.version}: its wrapped data key failed authentication (modified, or moved from another row)`);
  return key;
}

/** Encrypts `value` as version `version` of the secret `id`, under a fresh data key wrapped by `master`. */
export function sealSecret(id: SecretIdentity, version: number, value: Buffer, master: MasterKey, random: Random = randomBytes): Envelope {
  return sealEnvelope(secretBinding(id, version), value, master, random);
}

/** Decrypts a stored version with the master key that wrapped it. Throws SecretTampered; never a partial value. */
export function openSecret(record: SecretRecord, master: MasterKey): Buffer {
  const dataKey = unwrapDataKey(record, master);
  try {
    const value = decrypt(dataKey, record.iv, secretAad(record, record.version), record.ciphertext, record.tag);
    if (value === undefined) {
      throw new SecretTampered(`secret ${describeSecret(record)} version ${record.version}: its ciphertext failed authentication (modified, or moved from another row)`);
    }
    return value;
  } finally {
    dataKey.fill(0);
  }
}

/** The same data key wrapped by `to` instead of `from`: the value is not decrypted. Throws SecretTampered. */
export function rewrapDataKey(w: SecretWrap, from: MasterKey, to: MasterKey, random: Random = randomBytes): Buffer {
  const dataKey = unwrapDataKey(w, from);
  try {
    return wrapDataKey(dataKey, w, w.version, to, random);
  } finally {
    dataKey.fill(0);
  }
}
