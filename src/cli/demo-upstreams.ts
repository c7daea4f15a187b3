/**
 * The demo's own HTTP servers, in-process on one loopback port, so the demo needs no network:
 * - `/oauth/token`, `/oauth/revoke`: the reports API's authorization server. It issues short-lived access
 *   tokens by token exchange (RFC 8693) to one client (the gateway, HTTP Basic), for a subject token the
 *   gateway signed (checked against the gateway's published JWKS), and revokes them (RFC 7009).
 * - `/reports/mcp`: an MCP server (the official SDK, stateless Streamable HTTP) that serves only requests
 *   carrying a live token from that authorization server. Its tool echoes the credential it was sent, to
 *   show that the gateway redacts it before the agent could see it.
 * - `/payroll/mcp`: another tenant's MCP server, so the demo's task can ask for something policy refuses.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { readLimitedBody } from '../core/read-body.js';
import { REPORTS_AUDIENCE } from './demo-setup.js';

export interface DemoUpstreams {
  /** The origin the servers listen on, http://127.0.0.1:PORT. */
  origin: string;
  /** The gateway whose subject tokens the authorization server accepts (known once it listens). */
  trustGateway(origin: string): void;
  /** Tokens issued, with the subject token's claims (who, for which task): what the reports server saw. */
  issued: Map<string, JWTPayload>;
  revoked: Set<string>;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));

/** An MCP server for one stateless request. */
async function serveMcp(req: IncomingMessage, res: ServerResponse, body: unknown, build: (server: McpServer) => void): Promise<void> {
  const server = new McpServer({ name: 'demo-upstream', version: '1.0.0' });
  build(server);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => void transport.close().then(() => server.close()));
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

export async function startDemoUpstreams(clientSecret: string): Promise<DemoUpstreams> {
  const issued = new Map<string, JWTPayload>();
  const revoked = new Set<string>();
  let gateway: { jwks: ReturnType<typeof createRemoteJWKSet>; issuer: string } | undefined;
  const client = `Basic ${Buffer.from(`mcp-warden:${clientSecret}`).toString('base64')}`;

  const exchange = async (form: URLSearchParams, res: ServerResponse) => {
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange' || gateway === undefined) return json(res, 400, { error: 'unsupported_grant_type' });
    try {
      const { payload } = await jwtVerify(form.get('subject_token') ?? '', gateway.jwks, { issuer: gateway.issuer, audience: REPORTS_AUDIENCE });
      const token = `rpt_${randomBytes(24).toString('base64url')}`;
      issued.set(token, payload);
      json(res, 200, { access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 300, scope: 'reports:read' });
    } catch {
      json(res, 400, { error: 'invalid_grant' });
    }
  };

  const reports = (token: string) => (server: McpServer) => {
    const who = issued.get(token)!;
    server.registerTool('weekly_figures', { description: "This week's order figures", annotations: { readOnlyHint: true } }, () => ({
      content: [{ type: 'text', text: `Week 23 for ${String(who.sub)}: 128 orders, 9,420 EUR (credential received: Bearer ${token})` }],
    }));
  };

  const payroll = (server: McpServer) => {
    server.registerTool('salaries', { description: "globex's salaries", annotations: { readOnlyHint: true } }, () => ({ content: [{ type: 'text', text: 'confidential' }] }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const text = req.method === 'POST' ? await readLimitedBody(req, 1024 * 1024, () => new Error('body too large')) : '';
    if (path === '/oauth/token' || path === '/oauth/revoke') {
      if (req.headers.authorization !== client) return json(res, 401, { error: 'invalid_client' });
      const form = new URLSearchParams(text);
      if (path === '/oauth/revoke') return revoked.add(form.get('token') ?? ''), json(res, 200, {});
      return exchange(form, res);
    }
    if (path !== '/reports/mcp' && path !== '/payroll/mcp') return json(res, 404, { error: 'not found' });
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    const body: unknown = JSON.parse(text || 'null');
    if (path === '/payroll/mcp') return serveMcp(req, res, body, payroll);
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!issued.has(token) || revoked.has(token)) return json(res, 401, { error: 'invalid_token' });
    return serveMcp(req, res, body, reports(token));
  };

  const server = createServer((req, res) => void handle(req, res).catch(() => (res.headersSent ? res.end() : json(res, 500, { error: 'server_error' }))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    trustGateway: (gw) => void (gateway = { jwks: createRemoteJWKSet(new URL('/.well-known/jwks.json', gw)), issuer: gw }),
    issued,
    revoked,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
