/** A local issuer for tests: a real key pair, its JWKS on disk, and signed access tokens. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { uuidv7 } from '../../src/core/ids.js';

export interface TestIssuer {
  issuer: string;
  jwksFile: string;
  privateKey: CryptoKey;
  kid: string;
  /** Signs an access token; `claims` override the defaults (aud, sub, exp 5 minutes, jti). */
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

export async function createTestIssuer(dir: string, issuer = 'https://idp.test', alg: 'ES256' | 'RS256' = 'ES256'): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `k-${uuidv7().slice(-8)}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const jwksFile = join(dir, `jwks-${kid}.json`);
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  return {
    issuer,
    jwksFile,
    privateKey,
    kid,
    sign: (claims, header = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iat: now, exp: now + 300, jti: uuidv7(), ...claims })
        .setProtectedHeader({ alg, kid, typ: 'at+jwt', ...header })
        .setIssuer(issuer)
        .sign(privateKey);
    },
  };
}
