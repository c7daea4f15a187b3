/**
 * DNS-rebinding guard: the Host header must name the gateway, and a browser's Origin must be one we serve
 * or one the operator allowed. A page on another site that resolves its name to 127.0.0.1 fails both.
 */
const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];

export interface HostGuard {
  hostAllowed(host: string | undefined): boolean;
  originAllowed(origin: string | undefined): boolean;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function createHostGuard(listenHost: string, port: number, extraHosts: readonly string[], extraOrigins: readonly string[], publicUrl?: string): HostGuard {
  const names = isLoopbackHost(listenHost) ? LOOPBACK : [listenHost.includes(':') && !listenHost.startsWith('[') ? `[${listenHost}]` : listenHost];
  const hosts = new Set<string>(names.map((n) => `${n}:${port}`.toLowerCase()));
  for (const h of extraHosts) hosts.add(h.toLowerCase());
  if (publicUrl) hosts.add(new URL(publicUrl).host.toLowerCase());
  const origins = new Set<string>();
  for (const h of hosts) {
    origins.add(`http://${h}`);
    origins.add(`https://${h}`);
  }
  for (const o of extraOrigins) origins.add(o.toLowerCase().replace(/\/$/, ''));
  return {
    hostAllowed: (host) => host !== undefined && hosts.has(host.toLowerCase()),
    originAllowed: (origin) => origin === undefined || origins.has(origin.toLowerCase()),
  };
}
