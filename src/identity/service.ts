/** Builds the identity side of a running gateway from its config, once the public URL is known. */
import type { WardenConfig } from '../config/schema.js';
import type { Store } from '../store/types.js';
import { AgentIssuers } from './agent-issuers.js';
import { NoAuthenticator, OAuthAuthenticator, type Authenticator } from './authenticator.js';
import { GatewayTokens } from './gateway-tokens.js';
import { metadataUrl, protectedResourceMetadata } from './metadata.js';
import type { SignerSource } from './signer.js';
import type { Principal } from './principal.js';
import { TokenExchange, type StartTaskHook } from './token-exchange.js';

export interface Identity {
  authenticator: Authenticator;
  /** The resource URI tokens must be issued for (RFC 8707), also the audience of gateway tokens. */
  resource: string;
  metadataUrl: string;
  /** RFC 9728 document; null in development mode. */
  metadata: Record<string, unknown> | null;
  requiredScopes: string[];
  exchange?: TokenExchange;
  keys?: SignerSource;
}

/** `keys` is the gateway's one set of signing keys (shared with audit checkpoints), used when the token service is on. */
export function createIdentity(
  config: WardenConfig,
  publicUrl: string,
  baseDir: string,
  store: Store,
  keys: SignerSource,
  startTask?: StartTaskHook,
  checkRevoked?: (p: Principal) => void,
): Identity {
  const auth = config.auth;
  if (!auth || auth.mode === 'none') {
    return { authenticator: new NoAuthenticator(), resource: publicUrl, metadataUrl: metadataUrl(publicUrl), metadata: null, requiredScopes: [] };
  }
  const ts = config.tokenService;
  const issuer = ts.issuer ?? new URL(publicUrl).origin;
  const homes = new AgentIssuers({ auth, agents: config.agents });
  const local = ts.enabled ? new GatewayTokens(issuer, publicUrl, keys, store.tokens, auth.clockSkewSeconds, { homes }) : undefined;
  const authenticator = new OAuthAuthenticator({ config: auth, audience: publicUrl, agents: config.agents, baseDir, local });
  const servers = [...auth.issuers.map((i) => i.issuer), ...(local ? [issuer] : [])];
  return {
    authenticator,
    resource: publicUrl,
    metadataUrl: metadataUrl(publicUrl),
    metadata: protectedResourceMetadata(publicUrl, servers, auth.requiredScopes),
    requiredScopes: auth.requiredScopes,
    keys: local ? keys : undefined,
    exchange: local ? new TokenExchange({ config: ts, audience: publicUrl, authenticator, tokens: local, replay: store.replay, agents: config.agents, startTask, checkRevoked }) : undefined,
  };
}
