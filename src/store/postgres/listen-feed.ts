/**
 * A LISTEN connection of its own (LISTEN belongs to one connection), shared by the revocation feed and the
 * session signal feed: named `<application_name>:<name>` so operators can tell it apart, failing closed
 * (an error or the end of the connection calls `onLost` once), and closed at most once.
 */
import pg from 'pg';
import { StoreError, toStoreError } from '../errors.js';
import type { PostgresTarget } from './url.js';

// A feed's reads must not hang on a half-dead connection: the replica would trust a stale list.
const FEED_QUERY_TIMEOUT_MS = 5_000;

export interface ListenFeed {
  readonly client: pg.Client;
  /** Whether the feed is up (connected and listening, not lost or closed). */
  up(): boolean;
  /** Drops the feed as lost (a failed read on it means it cannot be trusted). */
  lose(err: unknown): void;
  /** A store_unavailable error naming what failed, with the target's secrets scrubbed. */
  fail(err: unknown, what: string): StoreError;
  close(): Promise<void>;
}

export async function openListenFeed(
  target: PostgresTarget,
  name: string,
  channel: string,
  onNotification: (payload: string | undefined, feed: ListenFeed) => void,
  onLost: (err: Error) => void,
): Promise<ListenFeed> {
  const url = new URL(target.connectionString);
  url.searchParams.set('application_name', `${url.searchParams.get('application_name') ?? 'mcp-warden'}:${name}`);
  const client = new pg.Client({ connectionString: url.href, connectionTimeoutMillis: 10_000, query_timeout: FEED_QUERY_TIMEOUT_MS, keepAlive: true });
  const fail = (err: unknown, what: string): StoreError => toStoreError(err, 'store_unavailable', what, target.secrets);
  let state: 'connecting' | 'up' | 'closed' | 'lost' = 'connecting';
  const feed: ListenFeed = {
    client,
    up: () => state === 'up',
    lose: (err) => {
      if (state !== 'up') return;
      state = 'lost';
      client.end().catch(() => {});
      onLost(fail(err, `${name} feed lost`));
    },
    fail,
    close: async () => {
      if (state === 'closed') return;
      const wasUp = state === 'up';
      state = 'closed';
      if (wasUp) await client.end().catch(() => {});
    },
  };
  // Registered before connecting: an unhandled 'error' on a client would crash the process.
  client.on('error', (err) => feed.lose(err));
  client.on('end', () => feed.lose(new Error('connection ended')));
  client.on('notification', (msg) => {
    if (msg.channel === channel && state === 'up') onNotification(msg.payload, feed);
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${channel}`);
  } catch (err) {
    state = 'closed';
    await client.end().catch(() => {});
    throw fail(err, `cannot open the ${name} feed`);
  }
  state = 'up';
  return feed;
}
