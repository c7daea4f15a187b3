export { UpstreamClient, type UpstreamClientOptions, type UpstreamDownCode } from './upstream-client.js';
export { DEFAULT_UPSTREAM_BOUNDS, UpstreamFault, type UpstreamBounds } from './fault.js';
export type { RequestOptions } from './rpc-peer.js';
export { scrubbedEnv, upstreamProcessCount } from './stdio-transport.js';
export type { RequestHeaders } from './transports.js';
