export { UpstreamClient, type UpstreamClientOptions } from './upstream-client.js';
export type { RequestOptions } from './rpc-peer.js';
export { scrubbedEnv } from './stdio-transport.js';
