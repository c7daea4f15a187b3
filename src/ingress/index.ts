export { isLoopbackHost } from './guard.js';
export { startIngress, splitListen, type Ingress } from './http-server.js';
export { Health, type HealthChecks, type Readiness } from './health.js';
export { startMetricsListener } from './ops-routes.js';
