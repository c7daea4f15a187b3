/**
 * The seam between what the gateway signs (its access tokens, token-exchange subject tokens, audit
 * checkpoints) and what holds the private key. A Signer signs bytes and tells its public key; it never hands
 * out the private key, so it may live in this process (LocalSigner, unwrapped from the store under the master
 * key) or in an HSM or a cloud KMS (a PKCS#11 session, a KMS `Sign` call) behind the same three members.
 *
 *   const signer = await keys.current()                        // any SignerSource
 *   const jws = await signCompact(signer, { typ: 'at+jwt' }, payloadBytes)
 *
 * A source hands out the signer to use now and the public keys to verify with (every key whose signatures
 * may still be presented). See docs/security.md, "Signing keys".
 */
import { createPrivateKey, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

export type SigningAlg = 'ES256' | 'EdDSA';

export interface Signer {
  readonly kid: string;
  readonly alg: SigningAlg;
  /** The public key, as a JWK of its public members only. */
  readonly publicJwk: JWK;
  /** The JWS signature of `data` (RFC 7518: ES256 as the 64-byte R || S, EdDSA as the 64-byte Ed25519 signature). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export interface SignerSource {
  /** The signer to sign with now. */
  current(): Promise<Signer>;
  /** Every public key a signature still in circulation may name (kid, alg, use set). */
  publicJwks(): Promise<{ keys: JWK[] }>;
  /** The kid this process signs with now, if it has signed anything. */
  readonly currentKid: string | undefined;
}

/** A signer over a private key held in this process (a KeyObject: not exported, not logged). */
export class LocalSigner implements Signer {
  private readonly key: KeyObject;

  constructor(
    readonly kid: string,
    readonly alg: SigningAlg,
    readonly publicJwk: JWK,
    privateJwk: JWK,
  ) {
    this.key = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    if (this.alg === 'ES256') return sign('sha256', data, { key: this.key, dsaEncoding: 'ieee-p1363' });
    return sign(null, data, this.key);
  }
}

const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');

/**
 * A compact JWS (RFC 7515) over `payload`, signed by `signer`: the header gets its alg and kid. What jose's
 * SignJWT and CompactSign produce, with the signature made by the seam instead of a key in hand.
 */
export async function signCompact(signer: Signer, header: Record<string, unknown>, payload: Uint8Array): Promise<string> {
  const input = `${b64u(JSON.stringify({ ...header, alg: signer.alg, kid: signer.kid }))}.${b64u(payload)}`;
  const signature = await signer.sign(Buffer.from(input, 'ascii'));
  return `${input}.${b64u(signature)}`;
}

/** A signed JWT: `claims` as the payload of a compact JWS. */
export function signJwt(signer: Signer, header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> {
  return signCompact(signer, header, Buffer.from(JSON.stringify(claims), 'utf8'));
}
