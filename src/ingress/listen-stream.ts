/**
 * The HTTP side of `subscriptions/listen`: an SSE stream whose first message acknowledges what the gateway
 * honours, followed by the notifications the client opted in to, each tagged with the stream's id. Resource
 * subscriptions are subscribed upstream through the decision path (a `resources/subscribe` per URI, decided
 * and audited like a read); a URI the caller may not read is left out of the acknowledgement.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway, RequestMeta } from '../gateway/gateway.js';
import type { GatewaySession } from '../gateway/session.js';
import { honouredLists, META_SUBSCRIPTION_ID, type SubscriptionFilter } from '../gateway/subscriptions.js';
import { canonicalUri } from '../policy/index.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcNotification, JsonRpcRequest } from '../protocol/jsonrpc.js';
import { congested, SSE_HEADERS, sseEvent } from './response-stream.js';

/** At most this many resource URIs on one stream: each is an upstream subscription. */
const MAX_RESOURCE_SUBSCRIPTIONS = 64;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (message: string) => new WardenError('invalid_params', message, JsonRpcCode.InvalidParams, 400);

export async function openListenStream(gateway: Gateway, session: GatewaySession, msg: JsonRpcRequest, _req: IncomingMessage, res: ServerResponse, meta: RequestMeta): Promise<void> {
  const requested = msg.params?.notifications;
  if (!isObject(requested)) throw invalid('subscriptions/listen needs params.notifications');
  const uris = requested.resourceSubscriptions ?? [];
  if (!Array.isArray(uris) || uris.length > MAX_RESOURCE_SUBSCRIPTIONS || !uris.every((u) => typeof u === 'string')) {
    throw invalid(`resourceSubscriptions must be at most ${MAX_RESOURCE_SUBSCRIPTIONS} URIs`);
  }
  const filter: SubscriptionFilter = honouredLists(requested);
  const subscribed: string[] = [];
  for (const uri of uris as string[]) {
    const sub: JsonRpcRequest = { jsonrpc: '2.0', id: msg.id, method: 'resources/subscribe', params: { uri } };
    const answer = await gateway.handle(session, sub, { send: () => false, signal: new AbortController().signal }, meta);
    if ('error' in answer) continue;
    subscribed.push(uri);
  }
  if (subscribed.length > 0) {
    filter.resourceSubscriptions = [...new Set(subscribed.flatMap((u) => [u, canonicalOrSame(u)]))];
  }
  const tag = { [META_SUBSCRIPTION_ID]: msg.id };
  const write = (n: JsonRpcNotification) => {
    if (res.writableEnded || congested(res, n)) return;
    res.write(sseEvent({ ...n, params: { ...n.params, _meta: { ...(isObject(n.params?._meta) ? n.params._meta : {}), ...tag } } }));
  };
  const close = session.listen({ filter, send: write });
  if (close === undefined) {
    throw new WardenError('session_limit', 'Too many open subscriptions/listen streams; close one first', JsonRpcCode.LimitExceeded, 429, { retryAfter: 1 });
  }
  await gateway.recordOutcome('subscriptions/listen', null, meta).catch(() => undefined);
  // The stream keeps the caller's stateless connections alive: they carry its notifications.
  session.inFlight++;
  res.writeHead(200, SSE_HEADERS);
  const ack: Record<string, unknown> = { ...honouredLists(requested), ...(subscribed.length > 0 ? { resourceSubscriptions: subscribed } : {}) };
  write({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: ack } });
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 25_000);
  keepAlive.unref();
  res.on('close', () => {
    clearInterval(keepAlive);
    close();
    session.inFlight--;
    session.lastSeen = Date.now();
  });
}

function canonicalOrSame(uri: string): string {
  try {
    return canonicalUri(uri);
  } catch {
    return uri;
  }
}
