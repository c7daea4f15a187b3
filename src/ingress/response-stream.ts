/**
 * The answer to one POSTed request. It stays undecided until the first message: if that is the final
 * response it goes out as plain JSON (the fast, common case); if a notification or a relayed request comes
 * first it becomes an SSE stream carrying those and then the response.
 */
import type { ServerResponse } from 'node:http';
import type { RequestOutbound } from '../gateway/channel.js';
import type { JsonRpcMessage, JsonRpcResponse } from '../protocol/jsonrpc.js';

export function sseEvent(message: JsonRpcMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * Bytes a client may leave unread on one stream before notifications to it are dropped: a client that does
 * not read (or an upstream flooding it) must not grow the gateway's memory. Requests and responses still go.
 */
export const MAX_UNREAD_BYTES = 8 * 1024 * 1024;

/** True when `message` may be dropped because the client is not reading `res`. */
export function congested(res: ServerResponse, message: JsonRpcMessage): boolean {
  return res.writableLength > MAX_UNREAD_BYTES && !('id' in message);
}

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

export class ResponseStream implements RequestOutbound {
  private mode: 'pending' | 'sse' | 'done' = 'pending';
  private readonly controller = new AbortController();

  /**
   * @param sseAllowed the client accepts text/event-stream
   * @param cancelOnClose a closed stream cancels the request (2026-07-28); older revisions say it must not
   * @param preferSse frame even a lone response as SSE (session clients expect a stream per POST)
   */
  constructor(private readonly res: ServerResponse, private readonly sseAllowed: boolean, cancelOnClose: boolean, private readonly preferSse = false) {
    res.on('close', () => {
      if (this.mode !== 'done') {
        this.mode = 'done';
        if (cancelOnClose) this.controller.abort();
      }
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Aborts the request the stream belongs to (the client sent notifications/cancelled). */
  cancel(): void {
    this.controller.abort();
  }

  send(message: JsonRpcMessage): boolean {
    if (this.mode === 'done' || !this.sseAllowed || congested(this.res, message)) return false;
    if (this.mode === 'pending') {
      this.res.writeHead(200, SSE_HEADERS);
      this.mode = 'sse';
    }
    // Accepted once written; up to MAX_UNREAD_BYTES of backpressure is not a reason to drop a message.
    this.res.write(sseEvent(message));
    return true;
  }

  finish(response: JsonRpcResponse, status = 200, headers: Record<string, string> = {}): void {
    if (this.mode === 'done') return;
    if (this.mode === 'sse') {
      this.res.end(sseEvent(response));
    } else if (this.preferSse && this.sseAllowed && status === 200) {
      // The whole stream is known now: with a length it leaves in one write instead of chunked frames.
      const body = sseEvent(response);
      this.res.writeHead(200, { ...SSE_HEADERS, 'content-length': Buffer.byteLength(body), ...headers });
      this.res.end(body);
    } else {
      const body = JSON.stringify(response);
      this.res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
      this.res.end(body);
    }
    this.mode = 'done';
  }
}
