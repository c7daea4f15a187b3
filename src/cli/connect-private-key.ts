/**
 * private_key_jwt client authentication (RFC 7523 section 2.2, OpenID Connect Core section 9): each token
 * request carries a fresh assertion signed with the agent's key: iss = sub = client id, aud = the token
 * endpoint, a one-minute exp and a unique jti. The key is a PEM file (PKCS#8, SEC1 or PKCS#1) or a JWK.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { uuidv7 } from '../core/ids.js';
import type { ClientAuth } from './connect-oauth.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASSERTION_LIFETIME_S = 60;

export interface SigningKey {
  key: KeyObject;
  alg: string;
  kid?: string;
}

/** The algorithm a key signs with when none is named: ES256/384/512 by curve, RS256, EdDSA. */
function defaultAlg(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  if (type === 'ec') return { 'prime256v1': 'ES256', 'secp384r1': 'ES384', 'secp521r1': 'ES512' }[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  return undefined;
}

/** Reads and checks the key; throws an Error whose message names the file, never its content. */
export async function loadSigningKey(file: string, alg?: string, kid?: string): Promise<SigningKey> {
  let key: KeyObject;
  let jwkKid: string | undefined;
  try {
    const text = readFileSync(file, 'utf8');
    if (text.trimStart().startsWith('{')) {
      const jwk = JSON.parse(text) as { kid?: unknown };
      jwkKid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
      key = createPrivateKey({ key: jwk as never, format: 'jwk' });
    } else {
      key = createPrivateKey(text);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`--private-key ${file}: ${code === 'ENOENT' || code === 'EACCES' ? `cannot be read (${code})` : 'is not a private key in PEM or JWK form'}`);
  }
  const chosen = alg ?? defaultAlg(key);
  if (!chosen) throw new Error(`--private-key ${file}: cannot tell the algorithm for this key type; name it with --alg`);
  const signing: SigningKey = { key, alg: chosen, kid: kid ?? jwkKid };
  try {
    await sign(signing, 'check', 'https://check.invalid/token');
  } catch {
    throw new Error(`--private-key ${file}: this key cannot sign with ${chosen}`);
  }
  return signing;
}

function sign(k: SigningKey, clientId: string, audience: string, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ jti: uuidv7(now) })
    .setProtectedHeader({ alg: k.alg, ...(k.kid ? { kid: k.kid } : {}) })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_LIFETIME_S)
    .sign(k.key);
}

/** The ClientAuth that adds client_id, client_assertion_type and a fresh client_assertion to each request. */
export function privateKeyJwt(clientId: string, tokenUrl: string, key: SigningKey, now: () => number = Date.now): ClientAuth {
  return async (form) => {
    form.set('client_id', clientId);
    form.set('client_assertion_type', ASSERTION_TYPE);
    form.set('client_assertion', await sign(key, clientId, tokenUrl, now()));
  };
}
