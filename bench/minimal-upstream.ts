// A minimal, fast Streamable HTTP MCP server (JSON responses only) used as the upstream for the
// gateway overhead benchmark. Runs as its own process; prints `listening on http://127.0.0.1:PORT/mcp`.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

type Msg = { jsonrpc?: string; id?: string | number | null; method?: string; params?: Record<string, unknown> };

const sessions = new Set<string>();
const ECHO_TOOL = {
  name: 'echo',
  description: 'Echoes back the input message',
  inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
};

function handle(msg: Msg): unknown {
  const { id, method, params } = msg;
  switch (method) {
    case 'initialize':
      return {
        jsonrpc: '2.0', id,
        result: {
          protocolVersion: typeof params?.protocolVersion === 'string' ? params.protocolVersion : '2025-11-25',
          capabilities: { tools: {} },
          serverInfo: { name: 'bench-minimal-upstream', version: '1.0.0' },
        },
      };
    case 'ping':
      return { jsonrpc: '2.0', id, result: {} };
    case 'tools/list':
      return { jsonrpc: '2.0', id, result: { tools: [ECHO_TOOL] } };
    case 'tools/call': {
      const args = (params?.arguments ?? {}) as Record<string, unknown>;
      if (params?.name !== 'echo') return { jsonrpc: '2.0', id, error: { code: -32602, message: `Unknown tool: ${String(params?.name)}` } };
      return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: `Echo: ${String(args.message)}` }] } };
    }
    default:
      return { jsonrpc: '2.0', id, error: { code: -32601, message: `Method not found: ${String(method)}` } };
  }
}

function send(res: http.ServerResponse, status: number, body: string | null, extra?: Record<string, string>): void {
  const headers: Record<string, string | number> = { ...extra };
  if (body !== null) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = Buffer.byteLength(body);
  } else {
    headers['Content-Length'] = 0;
  }
  res.writeHead(status, headers);
  res.end(body ?? undefined);
}

const server = http.createServer((req, res) => {
  if (req.url !== '/mcp') return send(res, 404, JSON.stringify({ error: 'not found' }));
  const sid = req.headers['mcp-session-id'];
  if (req.method === 'GET') return send(res, 405, null, { Allow: 'POST, DELETE' });
  if (req.method === 'DELETE') {
    if (typeof sid === 'string') sessions.delete(sid);
    return send(res, 200, null);
  }
  if (req.method !== 'POST') return send(res, 405, null, { Allow: 'POST, DELETE' });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let parsed: Msg | Msg[];
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Msg | Msg[];
    } catch {
      return send(res, 400, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
    }
    const msgs = Array.isArray(parsed) ? parsed : [parsed];
    const isInit = msgs.some((m) => m.method === 'initialize');
    let newSid: string | undefined;
    if (isInit) {
      newSid = randomUUID();
      sessions.add(newSid);
    } else if (typeof sid !== 'string' || !sessions.has(sid)) {
      return send(res, 404, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
    }
    const out = msgs.filter((m) => m.id !== undefined && m.method !== undefined).map(handle);
    const extra = newSid ? { 'Mcp-Session-Id': newSid } : undefined;
    if (out.length === 0) return send(res, 202, null, extra);
    send(res, 200, JSON.stringify(Array.isArray(parsed) ? out : out[0]), extra);
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;

const portArg = process.argv.slice(2).find((a) => /^\d+$/.test(a));
const port = Number(portArg ?? 0);
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`listening on http://127.0.0.1:${addr.port}/mcp\n`);
});
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); process.exit(0); });
// With --exit-with-parent (used by the harness, stdin is a pipe from it): exit when the parent goes away.
if (process.argv.includes('--exit-with-parent')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
