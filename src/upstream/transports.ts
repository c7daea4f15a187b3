/** Builds the transport for one configured upstream: stdio, Streamable HTTP, or legacy HTTP+SSE, each within the bounds. */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isStdioServer, type ServerConfig } from '../config/schema.js';
import type { Logger } from '../telemetry/log.js';
import { DEFAULT_UPSTREAM_BOUNDS, type UpstreamBounds } from './fault.js';
import { HttpClientTransport } from './http-transport.js';
import { createSseTransport } from './sse-legacy.js';
import { StdioTransport } from './stdio-transport.js';

/**
 * A prepared HTTP config may carry headers computed for every request (a user's OAuth token, refreshed before
 * it expires); they are added to the configured ones.
 */
export interface RequestHeaders {
  requestHeaders?: () => Promise<Record<string, string>>;
}

export function createTransport(name: string, server: ServerConfig, log: Logger, bounds: UpstreamBounds = DEFAULT_UPSTREAM_BOUNDS): Transport {
  if (isStdioServer(server)) {
    return new StdioTransport({
      command: server.command,
      args: server.args,
      env: server.env,
      cwd: server.cwd,
      onStderr: (line) => log.debug({ upstream: name, stderr: line }, 'upstream stderr'),
      onNoise: () => log.debug({ upstream: name }, 'upstream wrote a non-JSON line to stdout'),
      bounds,
    });
  }
  const url = new URL(server.url);
  if (server.transport === 'sse' || server.type === 'sse') return createSseTransport(url, server.headers, bounds);
  const perRequest = (server as RequestHeaders).requestHeaders;
  const headers = perRequest ? async () => ({ ...server.headers, ...(await perRequest()) }) : server.headers;
  return new HttpClientTransport(url, headers, bounds);
}
