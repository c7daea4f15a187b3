/**
 * Streamable HTTP to an upstream, on node:http with a keep-alive agent. It replaces the SDK's fetch-based
 * client on the hot path (measured here: about 1,300 calls/s through it, against about 17,000 for the same
 * upstream called directly). A POST's answer may be JSON or an SSE stream; a stream that ends before its
 * response resumes with GET and Last-Event-ID. After initialization a GET stream carries server-initiated
 * messages when the server offers one.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_UPSTREAM_BOUNDS, parseUpstreamJson, UpstreamFault, type UpstreamBounds } from './fault.js';
import { SseLimitError, SseParser } from './sse-parser.js';

export class HttpStatusError extends Error {
  constructor(readonly code: number) {
    super(`upstream answered HTTP ${code}`);
  }
}

/** The upstream answered 200 with a body that is not JSON-RPC. */
export class InvalidResponseError extends Error {}

export class HttpClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  sessionId?: string;
  private protocolVersion?: string;
  private readonly agent: HttpAgent;
  private readonly requestFn: typeof httpRequest;
  private standalone?: IncomingMessage;
  private closed = false;

  /**
   * `headers` may be a function, read (and awaited) for every request: a credential that rotates or is
   * refreshed before it expires (a user's OAuth token). A throw fails that request.
   */
  constructor(
    private readonly url: URL,
    private readonly headers: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>) = {},
    private readonly bounds: UpstreamBounds = DEFAULT_UPSTREAM_BOUNDS,
  ) {
    const https = url.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new HttpAgent({ keepAlive: true, maxSockets: 64 });
    this.requestFn = https ? httpsRequest : httpRequest;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  private async baseHeaders(): Promise<Record<string, string>> {
    return {
      ...(typeof this.headers === 'function' ? await this.headers() : this.headers),
      ...(this.sessionId ? { 'mcp-session-id': this.sessionId } : {}),
      ...(this.protocolVersion ? { 'mcp-protocol-version': this.protocolVersion } : {}),
    };
  }

  private call(method: string, headers: Record<string, string>, body?: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.requestFn(this.url, { method, agent: this.agent, headers }, resolve);
      req.on('error', reject);
      req.end(body);
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) throw new Error('transport closed');
    const body = JSON.stringify(message);
    const res = await this.call('POST', { ...(await this.baseHeaders()), 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': String(Buffer.byteLength(body)) }, body);
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && sid.length > 0) this.sessionId = sid;
    const status = res.statusCode ?? 0;
    if (status === 202 || status === 204) {
      res.resume();
      if ('method' in message && message.method === 'notifications/initialized') this.openStandalone();
      return;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw new HttpStatusError(status);
    }
    const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'text/event-stream') {
      const answered = await this.readStream(res, 'id' in message && 'method' in message ? message.id : undefined);
      if (!answered.done && answered.lastEventId !== undefined) this.resume(answered.lastEventId, 'id' in message ? message.id : undefined);
      return;
    }
    const text = await readAll(res, this.bounds.maxMessageBytes);
    if (!('method' in message && 'id' in message)) return; // a response or notification needs no answer body
    const parsed = parseUpstreamJson(text, this.bounds);
    if (!parsed.ok) throw new InvalidResponseError('upstream answered with a body that is not JSON');
    for (const m of Array.isArray(parsed.value) ? (parsed.value as unknown[]) : [parsed.value]) this.onmessage?.(m as JSONRPCMessage);
  }

  /** Reads one SSE response; resolves when it ends, saying whether the awaited response arrived. */
  private readStream(res: IncomingMessage, awaitedId: unknown): Promise<{ done: boolean; lastEventId?: string }> {
    return new Promise((resolve) => {
      let done = awaitedId === undefined;
      const parser = new SseParser((e) => {
        if (e.event !== 'message' || e.data === '') return;
        const parsed = parseUpstreamJson(e.data, this.bounds);
        if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) {
          this.onerror?.(new InvalidResponseError('upstream sent an SSE event that is not JSON'));
          return;
        }
        const m = parsed.value as JSONRPCMessage;
        if ('id' in m && m.id === awaitedId && !('method' in m)) done = true;
        // Messages on a request's own stream belong to that request: say so, so they reach only its client.
        this.onmessage?.(m, awaitedId !== undefined ? ({ relatedRequestId: awaitedId } as MessageExtraInfo) : undefined);
      }, this.bounds.maxMessageBytes);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        try {
          parser.push(chunk);
        } catch (err) {
          // A bound broken on the stream is the connection's fault; anything else thrown while handling it too.
          res.destroy();
          this.onerror?.(err instanceof UpstreamFault ? err : new UpstreamFault(err instanceof SseLimitError ? `sent an SSE event larger than ${this.bounds.maxMessageBytes} bytes` : 'sent a message that could not be handled'));
        }
      });
      const finish = () => resolve({ done, lastEventId: parser.lastEventId });
      res.on('end', finish);
      res.on('error', finish);
      res.on('close', finish);
    });
  }

  /** Resumes a stream that closed before its response (the server asked us to poll, or a connection broke). */
  private resume(lastEventId: string, awaitedId: unknown, attempt = 0): void {
    if (this.closed || attempt > 5) return;
    void this.baseHeaders()
      .then((h) => this.call('GET', { ...h, accept: 'text/event-stream', 'last-event-id': lastEventId }))
      .then(async (res) => {
        if (res.statusCode !== 200) return res.resume();
        const r = await this.readStream(res, awaitedId);
        if (!r.done) setTimeout(() => this.resume(r.lastEventId ?? lastEventId, awaitedId, attempt + 1), 100 * 2 ** attempt).unref();
      })
      .catch((err: Error) => this.onerror?.(err));
  }

  /** The standalone GET stream for server-initiated messages; optional for servers (405 means none). */
  private openStandalone(attempt = 0): void {
    if (this.closed || attempt > 8) return;
    void this.baseHeaders()
      .then((h) => this.call('GET', { ...h, accept: 'text/event-stream' }))
      .then(async (res) => {
        if (res.statusCode !== 200) return res.resume();
        this.standalone = res;
        await this.readStream(res, undefined);
        if (!this.closed) setTimeout(() => this.openStandalone(attempt + 1), Math.min(30_000, 500 * 2 ** attempt)).unref();
      })
      .catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.standalone?.destroy();
    if (this.sessionId) {
      // Ending the upstream session frees its state there; best effort, bounded.
      await Promise.race([this.baseHeaders().then((h) => this.call('DELETE', h)).then((r) => r.resume()).catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    this.agent.destroy();
    this.onclose?.();
  }
}

function readAll(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        res.destroy();
        reject(new UpstreamFault(`answered with a body larger than ${limit} bytes`));
      } else chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
