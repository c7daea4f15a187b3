export type { Outbound, RequestOutbound } from './channel.js';
export { Gateway, type GatewayOptions, type RequestMeta } from './gateway.js';
export { EXPOSED_NAME, exposedName } from './naming.js';
export { GatewaySession, type SessionInit } from './session.js';
