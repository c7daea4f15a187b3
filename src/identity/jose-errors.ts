/** Turns jose's verification errors into safe, specific descriptions (they name the rule, never the token). */
import { errors } from 'jose';
import { AuthError, invalidToken } from './errors.js';

export function describeJoseError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof errors.JWTExpired) return invalidToken('The token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'aud':
        return invalidToken('The token was not issued for this resource (audience mismatch)');
      case 'iss':
        return invalidToken('The token issuer does not match');
      case 'nbf':
        return invalidToken('The token is not yet valid');
      case 'iat':
        return invalidToken('The token was issued in the future');
      case 'typ':
        return invalidToken('The token type is not an access token');
      default:
        return invalidToken(`The token claim "${err.claim}" is missing or invalid`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return invalidToken('The token signing algorithm is not accepted');
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalidToken('The token signature is invalid');
  if (err instanceof errors.JWKSNoMatchingKey) return invalidToken('No key of the issuer matches the token');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return invalidToken('The token key is ambiguous');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return invalidToken('The issuer keys could not be loaded');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) return invalidToken('The token is malformed');
  return invalidToken('The token could not be verified');
}
