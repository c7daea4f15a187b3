/**
 * Authentication failures, shaped for RFC 6750 challenges. Descriptions are safe to send: they say what is
 * wrong with a credential, never what the credential was.
 */
export type AuthErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    readonly description: string,
    /** True when no credential was presented at all (RFC 6750: no error attribute then). */
    readonly missing = false,
    /** For insufficient_scope: the scopes needed. */
    readonly scope?: string[],
  ) {
    super(description);
  }

  get status(): number {
    return this.code === 'insufficient_scope' ? 403 : this.code === 'invalid_request' ? 400 : 401;
  }
}

export const missingToken = () => new AuthError('invalid_token', 'Authentication required: send a bearer token in the Authorization header', true);
export const invalidToken = (why: string) => new AuthError('invalid_token', why);
