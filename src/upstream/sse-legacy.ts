/**
 * The legacy HTTP+SSE transport (2024-11-05), the SDK's, within the same bounds as ours. The SDK's
 * EventSource reads events of any size and hands on messages of any depth, so this wraps it: the event
 * stream passes through a byte counter (an event larger than maxMessageBytes is a fault), and every message
 * is depth-checked before the peer sees it.
 */
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { valueDepthExceeds } from '../protocol/bounded-json.js';
import { UpstreamFault, type UpstreamBounds } from './fault.js';

const LF = 10;
const CR = 13;

/**
 * A stream of SSE bytes that errors (and calls `onTooLarge`) once an event, counted from the last blank
 * line, grows past `maxBytes`. Line ends are LF, CR or CRLF; two in a row end an event.
 */
export function boundedEventStream(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  onTooLarge: () => void,
): ReadableStream<Uint8Array> {
  let size = 0;
  /** Line ends seen in a row (CRLF counts once), and whether the last byte was CR. */
  let breaks = 0;
  let lastCr = false;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        for (let i = 0; i < chunk.length; i++) {
          const b = chunk[i];
          if (b === LF && lastCr) {
            lastCr = false;
            continue;
          }
          lastCr = b === CR;
          if (b === LF || b === CR) {
            if (++breaks >= 2) size = 0;
          } else {
            breaks = 0;
            if (++size > maxBytes) {
              onTooLarge();
              controller.error(new UpstreamFault(`sent an SSE event larger than ${maxBytes} bytes`));
              return;
            }
          }
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

class BoundedSseTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly inner: SSEClientTransport;

  constructor(url: URL, headers: Record<string, string>, private readonly bounds: UpstreamBounds) {
    const fault = (f: UpstreamFault) => this.onerror?.(f);
    const tooLarge = () => fault(new UpstreamFault(`sent an SSE event larger than ${bounds.maxMessageBytes} bytes`));
    this.inner = new SSEClientTransport(url, {
      requestInit: { headers },
      eventSourceInit: {
        // The SSE GET goes through eventsource, which takes headers only through its fetch hook; the body is
        // bounded here.
        fetch: async (u, init) => {
          const res = await fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } });
          if (res.body === null) return res;
          const body = boundedEventStream(res.body, bounds.maxMessageBytes, tooLarge);
          return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
        },
      },
    });
    this.inner.onclose = () => this.onclose?.();
    this.inner.onerror = (e) => this.onerror?.(e);
    this.inner.onmessage = (m) => {
      if (valueDepthExceeds(m, this.bounds.maxJsonDepth)) {
        return fault(new UpstreamFault(`sent a message nested deeper than ${this.bounds.maxJsonDepth} levels`));
      }
      this.onmessage?.(m);
    };
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.inner.send(message);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }
}

export function createSseTransport(url: URL, headers: Record<string, string>, bounds: UpstreamBounds): Transport {
  return new BoundedSseTransport(url, headers, bounds);
}
