/**
 * An upstream broke the protocol or one of the bounds on what it may send (a line, an event or a body too
 * large, a message nested too deep, a message the gateway could not handle). Transports report it through
 * `onerror`; the RpcPeer then drops the connection, fails its pending calls and lets the client restart it.
 * The reason names the bound, never the data.
 */
import { DEFAULT_JSON_BOUNDS, JsonBoundsError, parseBoundedJson } from '../protocol/bounded-json.js';

export class UpstreamFault extends Error {
  override readonly name = 'UpstreamFault';
}

/** How much an upstream connection may send: applied by every transport and by the RpcPeer. */
export interface UpstreamBounds {
  /** Largest message (a stdio line, an HTTP body, an SSE event), in bytes. */
  maxMessageBytes: number;
  /** Deepest nesting of arrays and objects in a message. */
  maxJsonDepth: number;
  /** Notifications relayed per second per connection; more are dropped (and logged once a second). */
  maxNotificationsPerSecond: number;
}

export const DEFAULT_UPSTREAM_BOUNDS: UpstreamBounds = {
  maxMessageBytes: DEFAULT_JSON_BOUNDS.maxBytes,
  maxJsonDepth: DEFAULT_JSON_BOUNDS.maxDepth,
  maxNotificationsPerSecond: 500,
};

/** Parses one message's JSON text within the bounds: a bound broken is a fault, text that is not JSON is not. */
export function parseUpstreamJson(text: string, bounds: UpstreamBounds): { ok: true; value: unknown } | { ok: false } {
  try {
    const value = parseBoundedJson(text, { maxBytes: bounds.maxMessageBytes, maxDepth: bounds.maxJsonDepth });
    return { ok: true, value };
  } catch (err) {
    if (err instanceof JsonBoundsError && err.kind !== 'not_json') {
      throw new UpstreamFault(`sent a message ${err.message}`);
    }
    return { ok: false };
  }
}
