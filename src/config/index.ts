export { ConfigError, loadConfig, resolveStoreSpec, validateConfig, type LoadedConfig } from './load.js';
export {
  ASYMMETRIC_ALGS,
  isStdioServer,
  type AgentConfig,
  type AuditConfig,
  type HttpServerConfig,
  type IssuerConfig,
  type OAuthAuthConfig,
  type ServerConfig,
  type StdioServerConfig,
  type TokenServiceConfig,
  type WardenConfig,
} from './schema.js';
