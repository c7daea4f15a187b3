/** Finds the bearer token of a request: only in the Authorization header, never in the URL. */
import { AuthError, invalidToken, missingToken } from './errors.js';

const QUERY_TOKEN = /[?&](access_token|token|bearer)=/i;

export function extractBearer(authorization: string | undefined, url: string | undefined, maxBytes: number): string {
  if (url && QUERY_TOKEN.test(url)) {
    // Tokens in URLs end up in logs and browser history (OAuth 2.1 forbids them); refuse outright.
    throw new AuthError('invalid_request', 'Tokens in the query string are not accepted; use the Authorization header');
  }
  if (authorization === undefined || authorization.trim() === '') throw missingToken();
  const m = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
  if (!m) throw invalidToken('The Authorization header must be "Bearer <token>"');
  const token = m[1]!;
  if (token.length > maxBytes) throw invalidToken(`The token is larger than ${maxBytes} bytes`);
  return token;
}
