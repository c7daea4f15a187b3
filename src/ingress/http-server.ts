/** The HTTP listener: the DNS-rebinding guard in front of everything, then the MCP endpoint and a health check. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WardenConfig } from '../config/schema.js';
import { systemClock } from '../core/ids.js';
import type { Gateway } from '../gateway/gateway.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { Logger } from '../telemetry/log.js';
import { createHostGuard, type HostGuard } from './guard.js';
import { SessionRegistry } from './sessions.js';
import { sendHttpError, StreamableHttpEndpoint } from './streamable-http.js';

export interface Ingress {
  /** The MCP endpoint URL clients use. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(i + 1)) };
}

export async function startIngress(config: WardenConfig, gateway: Gateway, log: Logger): Promise<Ingress> {
  const { host, port } = splitListen(config.listen);
  const sessions = new SessionRegistry(config.limits.sessionIdleMs, config.limits.maxSessions);
  const endpoint = new StreamableHttpEndpoint({ gateway, sessions, maxBodyBytes: config.limits.maxBodyBytes, clock: systemClock });
  // The guard needs the bound port, known only after listen(); requests cannot arrive before that.
  const bound: { guard?: HostGuard } = {};

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (!bound.guard!.hostAllowed(req.headers.host)) {
      log.warn({ host: req.headers.host }, 'request refused: Host not allowed');
      return sendHttpError(res, new WardenError('forbidden_host', 'Forbidden: Host header not allowed', JsonRpcCode.Forbidden, 403));
    }
    if (!bound.guard!.originAllowed(req.headers.origin)) {
      log.warn({ origin: req.headers.origin }, 'request refused: Origin not allowed');
      return sendHttpError(res, new WardenError('forbidden_origin', 'Forbidden: Origin not allowed', JsonRpcCode.Forbidden, 403));
    }
    if (path === '/mcp') {
      void endpoint.handle(req, res);
      return;
    }
    if (path === '/healthz' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', sessions: sessions.size }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
  });
  // Keep-alive connections from agents are long-lived; headers must still arrive promptly.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 30_000;
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  bound.guard = createHostGuard(host, actual, config.allowedHosts, config.allowedOrigins, config.publicUrl);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actual}/mcp`,
    port: actual,
    close: async () => {
      await sessions.closeAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
