export { NoAuthenticator, OAuthAuthenticator, type Authenticator, type LocalTokenVerifier, type RequestCredentials } from './authenticator.js';
export { AuthError, type AuthErrorCode } from './errors.js';
export { challenge, metadataUrl, protectedResourceMetadata } from './metadata.js';
export { ANONYMOUS, principalKey, type AuthMethod, type Principal } from './principal.js';
export { createIdentity, type Identity } from './service.js';
export { GRANT_TOKEN_EXCHANGE, TokenExchange, TokenExchangeError, type ExchangeResult, type StartTaskHook, type TaskAsk } from './token-exchange.js';
export { spiffeIdFromSan } from './spiffe.js';
export { loadJwksFile } from './issuer-verifier.js';
export { AgentIssuers } from './agent-issuers.js';
