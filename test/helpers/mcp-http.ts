/**
 * A raw MCP-over-HTTP client for tests: it sends exactly the bytes and headers a test asks for (malformed
 * JSON, wrong session ids, oversized bodies) and parses JSON or SSE answers.
 */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** JSON-RPC messages in the body (one for JSON, any number for SSE). */
  messages: Array<Record<string, unknown>>;
}

export function parseBody(contentType: string | null, text: string): Array<Record<string, unknown>> {
  if (!text) return [];
  if (contentType?.startsWith('text/event-stream')) {
    return text
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trim())
      .filter((d) => d.length > 0)
      .map((d) => JSON.parse(d) as Record<string, unknown>);
  }
  try {
    return [JSON.parse(text) as Record<string, unknown>];
  } catch {
    return [];
  }
}

export const BASE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export async function rawPost(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await fetch(url, { method: 'POST', headers: { ...BASE_HEADERS, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, messages: parseBody(res.headers.get('content-type'), text) };
}

export class RawSession {
  sessionId = '';
  protocolVersion = '2025-11-25';
  private nextId = 1;

  constructor(readonly url: string) {}

  async initialize(capabilities: Record<string, unknown> = {}): Promise<RawResponse> {
    const r = await rawPost(this.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: this.protocolVersion, capabilities, clientInfo: { name: 'raw-test', version: '0' } } });
    this.sessionId = r.headers.get('mcp-session-id') ?? '';
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return r;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'mcp-session-id': this.sessionId, 'mcp-protocol-version': this.protocolVersion, ...extra };
  }

  post(body: unknown, extra: Record<string, string> = {}): Promise<RawResponse> {
    return rawPost(this.url, body, this.headers(extra));
  }

  /** Sends a request and returns the final response message (the last message with its id). */
  async request(method: string, params?: Record<string, unknown>): Promise<{ res: RawResponse; message: Record<string, unknown> }> {
    const id = this.nextId++;
    const res = await this.post({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
    const message = res.messages.filter((m) => m.id === id).at(-1) ?? {};
    return { res, message };
  }
}
