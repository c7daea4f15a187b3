/**
 * Webhook sink: POSTs each batch as `{"events":[...]}` (application/json) to an http(s) URL.
 *
 * Signing. Every request carries
 *   X-Warden-Timestamp: <unix seconds>
 *   X-Warden-Signature: sha256=<hex HMAC-SHA256(secret, `${timestamp}.${body}`)>
 * The timestamp is inside the MAC so a captured request cannot be replayed later with a fresh timestamp: a
 * receiver recomputes the MAC over the raw body, compares in constant time, and rejects timestamps older
 * than its tolerance (5 minutes is usual); `verifyWebhookSignature` does all three. Events are delivered
 * at-least-once, so a receiver deduplicates by event `id` (or `seq`).
 *
 * Any response other than 2xx (redirects included: they are not followed) or no response within the
 * timeout is a failure; the pump retries the batch. Neither the secret nor the URL (which may hold a
 * token) appears in error messages.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditEvent } from '../event.js';
import type { Sink } from './types.js';

export interface WebhookSinkOptions {
  url: string;
  /** HMAC key; at least 16 bytes. */
  secret: string;
  /** Per-request timeout. Default 10000. */
  timeoutMs?: number;
  /** Extra request headers (e.g. an API key for the receiver). */
  headers?: Record<string, string>;
  /** Sink (and cursor) name. Default `webhook`. */
  name?: string;
  /** Epoch milliseconds; injected for tests. */
  now?: () => number;
}

export const SIGNATURE_HEADER = 'x-warden-signature';
export const TIMESTAMP_HEADER = 'x-warden-timestamp';

/** `sha256=<hex>` over `${timestamp}.${body}`. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Checks a received webhook: the signature matches the raw body and timestamp under `secret`, and the
 * timestamp is within `toleranceSeconds` of now.
 */
export function verifyWebhookSignature(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  rawBody: string,
  opts: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  const nowSeconds = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, rawBody));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export class WebhookSink implements Sink {
  readonly name: string;
  private readonly url: URL;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: WebhookSinkOptions) {
    this.name = opts.name ?? 'webhook';
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new Error(`webhook sink ${this.name}: the url is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`webhook sink ${this.name}: the url must be http or https`);
    if (Buffer.byteLength(opts.secret ?? '') < 16) throw new Error(`webhook sink ${this.name}: the secret must be at least 16 bytes`);
    this.url = url;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  async deliver(events: AuditEvent[]): Promise<void> {
    const failure = await postSigned({ url: this.url, secret: this.opts.secret, headers: this.opts.headers, body: JSON.stringify({ events }), timeoutMs: this.timeoutMs, now: this.now });
    if (failure !== undefined) throw new Error(`webhook ${this.name}: ${failure}`);
  }
}

/**
 * One signed JSON POST (the scheme above); undefined when the receiver answered 2xx, else a short reason
 * that names neither the URL nor the secret. Redirects are not followed.
 */
export async function postSigned(o: { url: URL | string; secret: string; headers?: Record<string, string> | undefined; body: string; timeoutMs: number; now?: () => number }): Promise<string | undefined> {
  const timestamp = String(Math.floor((o.now ?? Date.now)() / 1000));
  try {
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { ...o.headers, 'content-type': 'application/json', [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signWebhook(o.secret, timestamp, o.body) },
      body: o.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(o.timeoutMs),
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status <= 299 ? undefined : `the receiver answered HTTP ${res.status}`;
  } catch (err) {
    return describeFetchError(err, o.timeoutMs);
  }
}

/** A fetch failure as a short reason (a code such as ECONNREFUSED, or a timeout), never the URL. */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: unknown; name?: unknown } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no response within ${timeoutMs} ms`;
  const code = e?.cause?.code ?? e?.cause?.name;
  return typeof code === 'string' ? `request failed (${code})` : 'request failed';
}
