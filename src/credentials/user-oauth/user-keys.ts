/**
 * Self-service static credentials (docs/user-oauth.md): for an upstream with `auth.userKey`, each person puts
 * their own API key or personal access token into the vault on the Connections page, never through the agent.
 * It is kept like user OAuth tokens (vault secret `user-key/<upstream>/<digest of the user>`, scoped to the
 * upstream and its tenant), sent in the configured header for that person's calls only, redacted from what
 * upstreams send, and deleted when they remove it or are revoked. A key past the expiry they gave is not used
 * (the call asks for a new one); within `remindDays` of it the page warns, and the log and audit say so once
 * a day per person and upstream.
 */
import type { HttpServerConfig, ServerConfig } from '../../config/schema.js';
import { serverWith, upstreamsWith } from './configured.js';
import { JsonRpcCode, WardenError } from '../../protocol/errors.js';
import type { Logger } from '../../telemetry/log.js';
import { SecretNotFound } from '../errors.js';
import type { InjectedSecret } from '../redactor.js';
import type { Vault } from '../vault.js';
import { connectionsUrl, ConnectFailure, type OAuthEvent } from './manager.js';
import { userDigest } from './token-vault.js';

interface StoredKey {
  user: string;
  upstream: string;
  value: string;
  /** Epoch ms, as the person gave it; absent: no expiry. */
  expiresAt?: number;
  setAt: number;
}

export interface UserKeysOptions {
  vault: Vault;
  servers: () => ReadonlyMap<string, ServerConfig>;
  publicUrl: () => string;
  log: Logger;
  onEvent?: (e: OAuthEvent) => Promise<void>;
  redact?: (secrets: InjectedSecret[]) => void;
  allowed?: (user: string) => boolean;
  now?: () => number;
}

const MAX_KEY_BYTES = 4096;
const DAY_MS = 86_400_000;
const keyOf = (server: ServerConfig | undefined) => (server !== undefined && 'url' in server ? server.auth?.userKey : undefined);

export class UserKeys {
  private readonly reminded = new Map<string, number>();

  constructor(private readonly opts: UserKeysOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  upstreams(): string[] {
    return upstreamsWith(this.opts.servers(), 'userKey');
  }

  private server(upstream: string): HttpServerConfig {
    const s = serverWith(this.opts.servers(), upstream, 'userKey');
    if (s === undefined) throw new ConnectFailure(404, 'unknown_upstream', `There is no upstream "${upstream}" that takes a personal key.`);
    return s;
  }

  private ref(upstream: string, user: string) {
    return { name: `user-key/${upstream}/${userDigest(user)}`, tenant: this.server(upstream).tenant ?? null, environment: null, upstream };
  }

  private async get(upstream: string, user: string): Promise<StoredKey | undefined> {
    let bytes: Buffer;
    try {
      bytes = await this.opts.vault.get(this.ref(upstream, user));
    } catch (err) {
      if (err instanceof SecretNotFound) return undefined;
      throw err;
    }
    try {
      const k = JSON.parse(bytes.toString('utf8')) as StoredKey;
      return k.user === user && k.upstream === upstream ? k : undefined;
    } finally {
      bytes.fill(0);
    }
  }

  private required(upstream: string, user: string | null, expired = false): WardenError {
    const url = connectionsUrl(this.opts.publicUrl());
    const what = expired ? `the key ${user} gave for upstream "${upstream}" has expired` : `${user ?? 'this call has no user, and'} has not given their own key for upstream "${upstream}"`;
    return new WardenError('connect_required', `${what}: open ${url} to add it, then try again`, JsonRpcCode.ConnectRequired, 200, { upstream, url });
  }

  /** The connection of `user` to `upstream` with their key in the configured header. Throws ConnectRequired. */
  async prepare(upstream: string, server: ServerConfig, user: string | null): Promise<ServerConfig> {
    const cfg = keyOf(server);
    if (cfg === undefined) return server;
    if (user === null) throw this.required(upstream, null);
    const header = async () => {
      const k = await this.get(upstream, user);
      if (k === undefined) throw this.required(upstream, user);
      if (k.expiresAt !== undefined && k.expiresAt <= this.now()) throw this.required(upstream, user, true);
      this.remind(upstream, k, cfg.remindDays);
      this.opts.redact?.([{ name: `key:${upstream}`, value: k.value }]);
      return { [cfg.header.toLowerCase()]: `${cfg.prefix ?? (cfg.header.toLowerCase() === 'authorization' ? 'Bearer ' : '')}${k.value}` };
    };
    await header();
    void this.opts.onEvent?.({ kind: 'use', user, upstream, tenant: server.tenant ?? null, connectionId: `key:${upstream}` }).catch(() => undefined);
    return Object.assign({ ...server }, { requestHeaders: header });
  }

  private remind(upstream: string, k: StoredKey, days: number): void {
    if (k.expiresAt === undefined || k.expiresAt - this.now() > days * DAY_MS) return;
    const key = `${k.user}\0${upstream}`;
    if ((this.reminded.get(key) ?? 0) > this.now() - DAY_MS) return;
    this.reminded.set(key, this.now());
    this.opts.log.warn({ user: k.user, upstream, expiresAt: new Date(k.expiresAt).toISOString() }, 'a personal upstream key expires soon: its owner should replace it on the Connections page');
    void this.opts.onEvent?.({ kind: 'key-expiring', user: k.user, upstream, tenant: null, connectionId: `key:${upstream}` }).catch(() => undefined);
  }

  /** Stores `user`'s key for `upstream` (from the page's form). */
  async set(upstream: string, user: string, value: string, expiresAt: number | undefined): Promise<void> {
    if (this.opts.allowed && !this.opts.allowed(user)) throw new ConnectFailure(403, 'revoked', 'Your access to this gateway is revoked: you cannot add keys.');
    this.server(upstream);
    const key = value.trim();
    if (key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES || /[\0\r\n]/.test(key)) throw new ConnectFailure(400, 'invalid_key', `A key is one line of at most ${MAX_KEY_BYTES} bytes.`);
    if (expiresAt !== undefined && (!Number.isFinite(expiresAt) || expiresAt <= this.now())) throw new ConnectFailure(400, 'invalid_expiry', 'The expiry must be a date in the future.');
    const ref = this.ref(upstream, user);
    const stored: StoredKey = { user, upstream, value: key, ...(expiresAt !== undefined ? { expiresAt } : {}), setAt: this.now() };
    const bytes = Buffer.from(JSON.stringify(stored), 'utf8');
    try {
      await this.opts.vault.remove(ref);
      await this.opts.vault.set(ref, bytes);
    } finally {
      bytes.fill(0);
    }
    this.reminded.delete(`${user}\0${upstream}`);
    void this.opts.onEvent?.({ kind: 'key-set', user, upstream, tenant: ref.tenant, connectionId: `key:${upstream}` }).catch(() => undefined);
  }

  async remove(upstream: string, user: string): Promise<boolean> {
    const gone = await this.opts.vault.remove(this.ref(upstream, user));
    if (gone) void this.opts.onEvent?.({ kind: 'key-removed', user, upstream, tenant: this.server(upstream).tenant ?? null, connectionId: `key:${upstream}` }).catch(() => undefined);
    return gone;
  }

  async removeAll(user: string): Promise<string[]> {
    const done: string[] = [];
    for (const upstream of this.upstreams()) if (await this.remove(upstream, user)) done.push(upstream);
    return done;
  }

  async status(user: string): Promise<Array<{ upstream: string; set: boolean; expiresAt?: number; expiring: boolean }>> {
    return Promise.all(
      this.upstreams().map(async (upstream) => {
        const k = await this.get(upstream, user);
        const days = keyOf(this.server(upstream))!.remindDays;
        if (k === undefined) return { upstream, set: false, expiring: false };
        const expiring = k.expiresAt !== undefined && k.expiresAt - this.now() <= days * DAY_MS;
        return { upstream, set: true, ...(k.expiresAt !== undefined ? { expiresAt: k.expiresAt } : {}), expiring };
      }),
    );
  }
}
