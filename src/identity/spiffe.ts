/**
 * SPIFFE workload identity without SPIRE: JWT-SVIDs checked against a trust-domain bundle (the JWT-SVID
 * spec: RS/ES/PS algorithms, `sub` a SPIFFE ID of the trust domain, our identity in `aud`, `exp` required),
 * and the SPIFFE ID of an X.509-SVID client certificate (exactly one URI SAN).
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { invalidToken } from './errors.js';
import { describeJoseError } from './jose-errors.js';
import { loadJwksFile } from './issuer-verifier.js';

const SVID_ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];
/** The SPIFFE ID grammar: path segments of [A-Za-z0-9._-] only, and never "." or ".." (no traversal, no escapes). */
const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)+)$/;

/** Keys of the bundle meant for JWT-SVIDs. jose accepts only `use: sig`, so `use` is dropped once selected. */
export function jwtSvidKeys(bundle: JSONWebKeySet): JSONWebKeySet {
  return { keys: bundle.keys.filter((k) => k.use === 'jwt-svid' && typeof k.kid === 'string').map(({ use: _use, ...k }) => k) };
}

export function parseSpiffeId(id: string, trustDomain: string): string {
  const m = SPIFFE_ID.exec(id);
  if (!m || m[2]!.split('/').some((seg) => seg === '.' || seg === '..')) throw invalidToken('The SPIFFE ID is malformed');
  if (m[1] !== trustDomain) throw invalidToken(`The SPIFFE ID is not in trust domain ${trustDomain}`);
  return id;
}

export class SpiffeVerifier {
  private readonly keys: JWTVerifyGetKey;

  constructor(readonly trustDomain: string, bundleFile: string, baseDir: string, private readonly audience: string, private readonly skewSeconds: number) {
    this.keys = createLocalJWKSet(jwtSvidKeys(loadJwksFile(bundleFile, baseDir)));
  }

  async verify(token: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<{ spiffeId: string; exp: number | null; jti: string | null }> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.keys, {
        audience: this.audience,
        algorithms: SVID_ALGS,
        clockTolerance: this.skewSeconds,
        requiredClaims: ['exp', 'aud', 'sub'],
        currentDate: new Date(nowSeconds * 1000),
      });
      const typ = protectedHeader.typ?.toUpperCase();
      if (typ !== undefined && typ !== 'JWT' && typ !== 'JOSE') throw invalidToken('The JWT-SVID type must be JWT or JOSE');
      return { spiffeId: parseSpiffeId(String(payload.sub), this.trustDomain), exp: payload.exp ?? null, jti: typeof payload.jti === 'string' ? payload.jti : null };
    } catch (err) {
      throw describeJoseError(err);
    }
  }
}

/** The SPIFFE ID of a verified client certificate's subjectAltName, which must hold exactly one URI. */
export function spiffeIdFromSan(subjectAltName: string | undefined, trustDomain: string): string {
  const uris = (subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  if (uris.length !== 1) throw invalidToken('An X.509-SVID must carry exactly one URI SAN');
  return parseSpiffeId(uris[0]!, trustDomain);
}
