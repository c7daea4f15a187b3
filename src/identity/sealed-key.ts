/**
 * A signing key's private JWK as the store keeps it: sealed under the vault master key (envelope encryption,
 * src/credentials/envelope.ts). Both AADs bind it to the key's kid, alg and public key, so a sealed private
 * key copied onto another row (to sign under that row's kid) does not open. The stored text is
 * `wk1.<masterKeyId>.<wrappedKey>.<iv>.<ciphertext>.<tag>` (base64url parts); it never holds `d` in clear.
 *
 *   const text = sealPrivateKey(k, privateJwk, ring.current)
 *   openPrivateKey(k, text, ring)   // the JWK; throws SigningKeyLocked or SigningKeyTampered
 */
import type { JWK } from 'jose';
import { openEnvelope, sealEnvelope, type EnvelopeBinding, type MasterKey, type MasterKeyRing } from '../credentials/index.js';

const PREFIX = 'wk1';

/** What a sealed private key is bound to. */
export interface KeyIdentity {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
}

/** The private key cannot be opened: wrapped by a master key that was not given. */
export class SigningKeyLocked extends Error {
  override readonly name = 'SigningKeyLocked';
  readonly code = 'signing_key_locked';
}

/** The sealed private key failed authentication, or is not a sealed key at all. */
export class SigningKeyTampered extends Error {
  override readonly name = 'SigningKeyTampered';
  readonly code = 'signing_key_tampered';
}

function binding(k: KeyIdentity): EnvelopeBinding {
  const pub = ['kty', 'crv', 'x', 'y'].map((m) => k.publicJwk[m] ?? null);
  return {
    value: Buffer.from(JSON.stringify(['mcp-warden/signing-key/v1', k.kid, k.alg, ...pub])),
    wrap: (keyId) => Buffer.from(JSON.stringify(['mcp-warden/signing-key-wrap/v1', keyId, k.kid, k.alg, ...pub])),
  };
}

/** True when `text` is a sealed private key (else it is a clear JWK a store written before 0.2 holds). */
export function isSealed(text: string): boolean {
  return text.startsWith(`${PREFIX}.`);
}

/** The master key id a sealed private key is wrapped by; undefined for a clear one. */
export function sealedKeyId(text: string): string | undefined {
  return isSealed(text) ? text.split('.')[1] : undefined;
}

export function sealPrivateKey(k: KeyIdentity, privateJwk: JWK, master: MasterKey): string {
  const plain = Buffer.from(JSON.stringify(privateJwk), 'utf8');
  try {
    const e = sealEnvelope(binding(k), plain, master);
    return [PREFIX, e.keyId, ...[e.wrappedKey, e.iv, e.ciphertext, e.tag].map((b) => b.toString('base64url'))].join('.');
  } finally {
    plain.fill(0);
  }
}

export function openPrivateKey(k: KeyIdentity, text: string, ring: MasterKeyRing): JWK {
  const parts = text.split('.');
  if (parts.length !== 6 || parts[0] !== PREFIX) {
    throw new SigningKeyTampered(`signing key ${k.kid}: its private key is not sealed`);
  }
  const master = ring.get(parts[1]!);
  if (master === undefined) {
    const given = ring.ids().join(', ');
    throw new SigningKeyLocked(`signing key ${k.kid} is wrapped by master key ${parts[1]}, which is not one of the keys given (${given})`);
  }
  const [wrappedKey, iv, ciphertext, tag] = parts.slice(2).map((p) => Buffer.from(p, 'base64url')) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ];
  const plain = openEnvelope({ keyId: master.id, wrappedKey, iv, ciphertext, tag }, binding(k), master);
  if (plain === undefined) {
    throw new SigningKeyTampered(`signing key ${k.kid}: its sealed private key failed authentication (modified, or moved from another key)`);
  }
  try {
    return JSON.parse(plain.toString('utf8')) as JWK;
  } finally {
    plain.fill(0);
  }
}

/** A clear private JWK as written by a store before keys were sealed; undefined when `text` is not one. */
export function clearPrivateJwk(text: string): JWK | undefined {
  if (isSealed(text)) return undefined;
  try {
    const jwk = JSON.parse(text) as unknown;
    return jwk !== null && typeof jwk === 'object' && typeof (jwk as JWK).d === 'string' ? (jwk as JWK) : undefined;
  } catch {
    return undefined;
  }
}
