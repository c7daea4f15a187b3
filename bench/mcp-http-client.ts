// A lean Streamable HTTP MCP client on node:http (keep-alive), for the benchmark hot path.
// Accepts application/json and text/event-stream responses.
import http from 'node:http';

export const PROTOCOL_VERSION = '2025-11-25';

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: string | number | null;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

export interface PostResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  response?: JsonRpcResponse;
  text?: string;
}

export class McpHttpSession {
  readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;
  private sessionId: string | undefined;
  private protocolVersion = PROTOCOL_VERSION;
  private nextId = 1;
  private headers: Record<string, string> = {};

  /** extra: headers sent with every request (e.g. an Authorization bearer token). */
  constructor(url: string, maxSockets = 16, private readonly extra: Record<string, string> = {}) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.path = u.pathname + u.search;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo', keepAliveMsecs: 1000 });
    this.buildHeaders();
  }

  private buildHeaders(): void {
    const h: Record<string, string> = {
      ...this.extra,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': this.protocolVersion,
    };
    if (this.sessionId) h['Mcp-Session-Id'] = this.sessionId;
    this.headers = h;
  }

  /** MCP handshake: initialize + notifications/initialized. Returns the initialize result. */
  async initialize(timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const r = await this.post(
      { jsonrpc: '2.0', id: this.nextId++, method: 'initialize', params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'warden-bench', version: '1.0.0' } } },
      timeoutMs,
    );
    if (r.status !== 200 || !r.response?.result) throw new Error(`initialize failed: HTTP ${r.status} ${r.text ?? JSON.stringify(r.response)}`);
    const sid = r.headers['mcp-session-id'];
    if (typeof sid === 'string') this.sessionId = sid;
    const pv = r.response.result.protocolVersion;
    if (typeof pv === 'string') this.protocolVersion = pv;
    this.buildHeaders();
    const n = await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, timeoutMs);
    if (n.status !== 202 && n.status !== 200) throw new Error(`notifications/initialized failed: HTTP ${n.status} ${n.text ?? ''}`);
    return r.response.result;
  }

  async request(method: string, params: Record<string, unknown>, timeoutMs?: number): Promise<JsonRpcResponse> {
    const r = await this.post({ jsonrpc: '2.0', id: this.nextId++, method, params }, timeoutMs);
    if (!r.response) throw new Error(`${method}: HTTP ${r.status} without JSON-RPC response ${r.text ?? ''}`);
    return r.response;
  }

  /** Hot path: tools/call; resolves with the JSON-RPC response (result or error). */
  callTool(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<JsonRpcResponse> {
    return this.request('tools/call', { name, arguments: args }, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.sessionId) {
      await new Promise<void>((resolve) => {
        const req = http.request({ host: this.host, port: this.port, path: this.path, method: 'DELETE', agent: this.agent, headers: this.headers });
        req.setTimeout(2000, () => req.destroy());
        req.on('response', (res) => { res.resume(); res.on('end', resolve); res.on('error', () => resolve()); });
        req.on('error', () => resolve());
        req.end();
      });
    }
    this.agent.destroy();
  }

  post(msg: { id?: number; method: string } & Record<string, unknown>, timeoutMs?: number): Promise<PostResult> {
    const body = JSON.stringify(msg);
    const wantId = msg.id;
    return new Promise<PostResult>((resolve, reject) => {
      const req = http.request({
        host: this.host, port: this.port, path: this.path, method: 'POST', agent: this.agent,
        headers: { ...this.headers, 'Content-Length': String(Buffer.byteLength(body)) },
      });
      if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const ct = String(res.headers['content-type'] ?? '');
        res.setEncoding('utf8');
        if (ct.startsWith('text/event-stream')) {
          // Parse SSE incrementally; resolve at the event that carries our response, keep draining.
          let buf = '';
          let data: string[] = [];
          let done = false;
          const finish = (response: JsonRpcResponse | undefined, text?: string): void => {
            if (done) return;
            done = true;
            resolve({ status, headers: res.headers, response, text });
          };
          res.on('data', (chunk: string) => {
            if (done) return;
            buf += chunk;
            let nl: number;
            while (!done && (nl = buf.indexOf('\n')) >= 0) {
              let line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.endsWith('\r')) line = line.slice(0, -1);
              if (line === '') {
                if (data.length) {
                  const payload = data.join('\n');
                  data = [];
                  try {
                    const m = JSON.parse(payload) as JsonRpcResponse | JsonRpcResponse[];
                    const list = Array.isArray(m) ? m : [m];
                    const hit = list.find((x) => x && x.id === wantId && ('result' in x || 'error' in x));
                    if (hit) finish(hit);
                  } catch { /* not JSON: ignore event */ }
                }
              } else if (line.startsWith('data:')) {
                data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
              }
            }
          });
          res.on('end', () => finish(undefined, `SSE stream ended without response (HTTP ${status})`));
          res.on('error', (e) => { if (!done) { done = true; reject(e); } });
        } else {
          let text = '';
          res.on('data', (chunk: string) => { text += chunk; });
          res.on('end', () => {
            let response: JsonRpcResponse | undefined;
            if (ct.startsWith('application/json') && text) {
              try {
                const m = JSON.parse(text) as JsonRpcResponse | JsonRpcResponse[];
                response = Array.isArray(m) ? m.find((x) => x.id === wantId) : m;
              } catch { /* leave undefined */ }
            }
            resolve({ status, headers: res.headers, response, text: response ? undefined : text });
          });
          res.on('error', reject);
        }
      });
      req.end(body);
    });
  }
}
