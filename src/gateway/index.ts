export type { Outbound, RequestOutbound } from './channel.js';
export { auditPrincipal, Gateway, type GatewayOptions, type RequestMeta } from './gateway.js';
export { EXPOSED_NAME, exposedName } from './naming.js';
export { GatewaySession, type SessionInit } from './session.js';
export { serverOfExposedName } from './naming.js';
export { classifyTool, serverFacts } from './classification.js';
export { subjectOf } from './authorize.js';
export type { PrincipalView, Survey, UpstreamSurvey } from './survey.js';
export { tenantHint, type HiddenItem } from './visibility.js';
