export { ConfigError, loadConfig, resolveStoreSpec, validateConfig, type LoadedConfig } from './load.js';
export { isStdioServer, type HttpServerConfig, type ServerConfig, type StdioServerConfig, type WardenConfig } from './schema.js';
