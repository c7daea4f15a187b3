export { isLoopbackHost } from './guard.js';
export { startIngress, splitListen, type Ingress } from './http-server.js';
