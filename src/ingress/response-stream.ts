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

/** How long a client waits before it reconnects to a stream that closed (the SSE `retry` field). */
const RETRY_MS = 1000;
/** What one resumable stream keeps for a client that reconnects: its events, within these bounds. */
const MAX_KEPT_EVENTS = 256;
const MAX_KEPT_BYTES = 1024 * 1024;

export class ResponseStream implements RequestOutbound {
  private mode: 'pending' | 'sse' | 'done' = 'pending';
  private readonly controller = new AbortController();
  /** Where events go now: the POST's response, a resuming GET's, or nowhere (the client is away). */
  private sink: ServerResponse | undefined;
  /** 2025-11-25 resumability: each event has an id `streamId:seq`, and is kept for a client that reconnects. */
  private readonly kept: Array<{ seq: number; text: string }> = [];
  private keptBytes = 0;
  private seq = 0;
  private finished = false;

  /**
   * @param sseAllowed the client accepts text/event-stream
   * @param cancelOnClose a closed stream cancels the request (2026-07-28); older revisions say it must not
   * @param preferSse frame even a lone response as SSE (session clients expect a stream per POST)
   * @param streamId set for a session's stream that a client may resume (GET with Last-Event-ID)
   */
  constructor(
    private readonly res: ServerResponse,
    private readonly sseAllowed: boolean,
    cancelOnClose: boolean,
    private readonly preferSse = false,
    readonly streamId?: string,
  ) {
    this.sink = res;
    res.on('close', () => {
      if (this.sink === res) this.sink = undefined;
      // A resumable stream goes on without its client, which may come back for the rest.
      if (this.mode !== 'done' && (this.streamId === undefined || this.mode === 'pending')) {
        this.mode = 'done';
        if (cancelOnClose) this.controller.abort();
      }
    });
  }

  /** An SSE event with this stream's next id, kept for a resume. */
  private event(message: JsonRpcMessage): string {
    if (this.streamId === undefined) return sseEvent(message);
    const seq = ++this.seq;
    const text = `id: ${this.streamId}:${seq}\n${sseEvent(message)}`;
    this.kept.push({ seq, text });
    this.keptBytes += text.length;
    while (this.kept.length > MAX_KEPT_EVENTS || this.keptBytes > MAX_KEPT_BYTES) this.keptBytes -= this.kept.shift()!.text.length;
    return text;
  }

  /** The priming event a resumable stream opens with: an id to resume from, and how long to wait first. */
  private priming(): string {
    return this.streamId === undefined ? '' : `id: ${this.streamId}:0\nretry: ${RETRY_MS}\ndata: \n\n`;
  }

  /**
   * A client reconnected (GET, Last-Event-ID `streamId:after`): it gets what it missed, then the rest as
   * it comes. Returns false when those events are no longer kept.
   */
  resume(res: ServerResponse, after: number): boolean {
    const missed = this.kept.filter((e) => e.seq > after);
    if (after < this.seq && (missed.length === 0 || missed[0]!.seq !== after + 1)) return false;
    res.writeHead(200, SSE_HEADERS);
    for (const e of missed) res.write(e.text);
    if (this.finished) {
      res.end();
      return true;
    }
    this.sink = res;
    res.on('close', () => this.sink === res && (this.sink = undefined));
    return true;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Aborts the request the stream belongs to (the client sent notifications/cancelled). */
  cancel(): void {
    this.controller.abort();
  }

  send(message: JsonRpcMessage): boolean {
    if (this.mode === 'done' || !this.sseAllowed || (this.sink !== undefined && congested(this.sink, message))) return false;
    if (this.mode === 'pending') {
      this.res.writeHead(200, SSE_HEADERS);
      this.res.write(this.priming());
      this.mode = 'sse';
    }
    // Accepted once written (or kept for a resume); up to MAX_UNREAD_BYTES of backpressure is not a reason to drop a message.
    const text = this.event(message);
    if (this.sink !== undefined) this.sink.write(text);
    else if (this.streamId === undefined) return false;
    return true;
  }

  finish(response: JsonRpcResponse, status = 200, headers: Record<string, string> = {}): void {
    if (this.mode === 'done') return;
    this.finished = true;
    if (this.mode === 'sse') {
      const text = this.event(response);
      this.sink?.end(text);
    } else if (this.preferSse && this.sseAllowed && status === 200) {
      // The whole stream is known now: with a length it leaves in one write instead of chunked frames.
      const body = this.priming() + this.event(response);
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
