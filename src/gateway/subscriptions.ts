/**
 * `subscriptions/listen` (2026-07-28): a stateless client's long-lived stream for notifications it opted in
 * to. Each stream belongs to one caller's stateless connections, so it only ever hears what that caller's own
 * upstream connections say; and it hears only the kinds it asked for (the revision forbids any other).
 */
import type { JsonRpcNotification } from '../protocol/jsonrpc.js';

export const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** What a client may ask for on a listen stream; `resourceSubscriptions` holds the URIs already allowed. */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

const LIST_KIND: Record<string, keyof SubscriptionFilter> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged',
};

/** The list-changed kinds of `requested` the gateway honours (all three), as the acknowledgement echoes them. */
export function honouredLists(requested: Record<string, unknown>): SubscriptionFilter {
  const out: SubscriptionFilter = {};
  for (const key of ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged'] as const) if (requested[key] === true) out[key] = true;
  return out;
}

/** True when a stream with `filter` asked for `n`. */
export function wants(filter: SubscriptionFilter, n: JsonRpcNotification): boolean {
  const kind = LIST_KIND[n.method];
  if (kind !== undefined) return filter[kind] === true;
  if (n.method === 'notifications/resources/updated') {
    const uri = n.params?.uri;
    return typeof uri === 'string' && (filter.resourceSubscriptions ?? []).includes(uri);
  }
  return false;
}

/** One open listen stream. */
export interface Listener {
  filter: SubscriptionFilter;
  send(n: JsonRpcNotification): void;
}

/** A session's open `subscriptions/listen` streams (stateless connections only), each with what it asked for. */
export class Listeners {
  /** At most this many listen streams per set of stateless connections: each holds a socket. */
  static readonly MAX = 16;
  private readonly open = new Set<Listener>();

  /** Opens a listen stream; returns its closer, or undefined when this caller has too many open. */
  add(l: Listener): (() => void) | undefined {
    if (this.open.size >= Listeners.MAX) return undefined;
    this.open.add(l);
    return () => this.open.delete(l);
  }

  /** A notification to every listen stream that asked for it. */
  send(n: JsonRpcNotification): void {
    for (const l of this.open) if (wants(l.filter, n)) l.send(n);
  }
}
