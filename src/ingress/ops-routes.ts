/**
 * The operations endpoints: /livez, /readyz (and /healthz, kept as before: live, with the session count),
 * and /metrics when enabled. /metrics may be served on a listener of its own (metrics.listen) and may require
 * a bearer token (metrics.tokenEnv); on the gateway's own listener beyond loopback the token is required.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../telemetry/metrics.js';
import type { Health } from './health.js';

export interface MetricsEndpoint {
  metrics: Metrics;
  /** The bearer token a scrape must carry; absent: none (loopback or a listener of its own). */
  token?: string;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
};

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time comparison of the Authorization header with the token (hashed first: equal lengths). */
function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization ?? '';
  const given = /^Bearer (.+)$/i.exec(header)?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token));
}

async function serveMetrics(req: IncomingMessage, res: ServerResponse, m: MetricsEndpoint): Promise<void> {
  if (!authorized(req, m.token)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unauthorized' }));
    return;
  }
  const { contentType, body } = await m.metrics.text();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
}

/** Answers the operations paths; false when `path` is not one of them. */
export function routeOps(path: string, req: IncomingMessage, res: ServerResponse, ctx: { health?: Health; metrics?: MetricsEndpoint; sessions: () => number }): boolean {
  if (req.method !== 'GET') return false;
  if (path === '/healthz') {
    json(res, 200, { status: 'ok', sessions: ctx.sessions() });
    return true;
  }
  if (path === '/livez') {
    json(res, 200, { status: 'ok' });
    return true;
  }
  if (path === '/readyz' && ctx.health) {
    const r = ctx.health.status();
    json(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', draining: r.draining, checks: r.checks });
    return true;
  }
  if (path === '/metrics' && ctx.metrics) {
    void serveMetrics(req, res, ctx.metrics).catch(() => json(res, 500, { error: 'metrics unavailable' }));
    return true;
  }
  return false;
}

/**
 * A listener of its own for /metrics (metrics.listen), which also answers /livez and /readyz: it stays open
 * while the gateway's listener is closed for a drain, so a probe there sees readiness turn 503.
 */
export async function startMetricsListener(host: string, port: number, m: MetricsEndpoint, health?: Health): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/healthz' || !routeOps(path, req, res, { ...(health ? { health } : {}), metrics: m, sessions: () => 0 })) json(res, 404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/metrics`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
