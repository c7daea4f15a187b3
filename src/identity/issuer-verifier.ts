/**
 * Verifies access tokens of one trusted OAuth issuer: signature with the issuer's keys (asymmetric
 * algorithms only), issuer, audience (RFC 8707: our own resource URI), exp/nbf/iat within a bounded skew,
 * and a token type that is an access token (RFC 9068 `at+jwt`, or plain `JWT`; none only where
 * `allowUntypedTokens` says so).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { IssuerConfig } from '../config/schema.js';
import { invalidToken } from './errors.js';
import { describeJoseError } from './jose-errors.js';

const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

export interface VerifiedToken {
  claims: JWTPayload;
  issuer: string;
}

export function loadJwksFile(file: string, baseDir: string): JSONWebKeySet {
  return JSON.parse(readFileSync(resolve(baseDir, file), 'utf8')) as JSONWebKeySet;
}

/**
 * Checks what jose leaves to the caller: a token type that means "access token" (a token without `typ` only
 * when the issuer's config allows it), and iat not in the future.
 */
export function checkTypeAndIat(protectedHeader: { typ?: string }, claims: JWTPayload, skewSeconds: number, nowSeconds: number, allowUntyped = false): void {
  const typ = protectedHeader.typ?.toLowerCase();
  if (typ === undefined && !allowUntyped) throw invalidToken('The token has no typ header; this issuer\'s tokens must say they are access tokens (at+jwt or JWT)');
  if (typ !== undefined && !ACCESS_TOKEN_TYPES.has(typ)) throw invalidToken('The token type is not an access token');
  if (typeof claims.iat === 'number' && claims.iat > nowSeconds + skewSeconds) throw invalidToken('The token was issued in the future');
}

export class IssuerVerifier {
  private readonly keys: JWTVerifyGetKey;

  constructor(
    readonly config: IssuerConfig,
    private readonly audience: string,
    private readonly skewSeconds: number,
    baseDir: string,
  ) {
    // The remote set caches keys and refetches on an unknown kid, at most once per cooldown (rate limit).
    this.keys = config.jwksUri
      ? createRemoteJWKSet(new URL(config.jwksUri), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 })
      : createLocalJWKSet(loadJwksFile(config.jwksFile!, baseDir));
  }

  async verify(token: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<VerifiedToken> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.keys, {
        issuer: this.config.issuer,
        audience: this.audience,
        algorithms: this.config.algorithms,
        clockTolerance: this.skewSeconds,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(nowSeconds * 1000),
      });
      checkTypeAndIat(protectedHeader, payload, this.skewSeconds, nowSeconds, this.config.allowUntypedTokens);
      return { claims: payload, issuer: this.config.issuer };
    } catch (err) {
      throw describeJoseError(err);
    }
  }
}
