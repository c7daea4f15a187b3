/** Builds the transport for one configured upstream: stdio, Streamable HTTP, or legacy HTTP+SSE. */
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isStdioServer, type ServerConfig } from '../config/schema.js';
import type { Logger } from '../telemetry/log.js';
import { HttpClientTransport } from './http-transport.js';
import { StdioTransport } from './stdio-transport.js';

export function createTransport(name: string, server: ServerConfig, log: Logger): Transport {
  if (isStdioServer(server)) {
    return new StdioTransport({
      command: server.command,
      args: server.args,
      env: server.env,
      cwd: server.cwd,
      onStderr: (line) => log.debug({ upstream: name, stderr: line }, 'upstream stderr'),
      onNoise: () => log.debug({ upstream: name }, 'upstream wrote a non-JSON line to stdout'),
    });
  }
  const url = new URL(server.url);
  const requestInit: RequestInit = { headers: server.headers };
  if (server.transport === 'sse' || server.type === 'sse') {
    const headers = server.headers;
    return new SSEClientTransport(url, {
      requestInit,
      // The SSE GET goes through eventsource, which takes headers only through its fetch hook.
      eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) },
    });
  }
  return new HttpClientTransport(url, server.headers);
}
