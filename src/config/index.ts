export { ConfigError, loadConfig, resolveServerPaths, resolveStoreSpec, validateConfig, type LoadedConfig } from './load.js';
export {
  ASYMMETRIC_ALGS,
  isStdioServer,
  type AgentConfig,
  type AuditConfig,
  type ConsoleConfig,
  type HttpServerConfig,
  type IssuerConfig,
  type LeaseConfig,
  type OAuthAuthConfig,
  type PolicyConfig,
  type ServerConfig,
  type StdioServerConfig,
  type TokenServiceConfig,
  type ToolClassConfig,
  type WardenConfig,
} from './schema.js';
export { agentHome, agentIssuerProblems, trustDomainIssuer, trustDomainOf, type AgentIssuerConfig } from './agent-issuers.js';
