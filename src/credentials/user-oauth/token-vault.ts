/**
 * A user's tokens for one OAuth upstream, kept in the vault (envelope-encrypted under the master key like
 * every secret, so master key rotation covers them). One vault secret per (user, upstream, tenant):
 * `user-oauth/<upstream>/<digest of the user>`, scoped to the upstream and its tenant. The user's name is
 * hashed because secret names are restricted and listed by `warden secret list`; the name itself is inside
 * the encrypted value. Nothing here logs or returns a token outside its caller.
 */
import { createHash } from 'node:crypto';
import { SecretNotFound } from '../errors.js';
import type { Vault } from '../vault.js';

/** What is stored for one connection: all of it encrypted. */
export interface StoredTokens {
  user: string;
  upstream: string;
  accessToken: string;
  refreshToken?: string;
  /** Epoch ms; absent when the server gave no expiry. */
  expiresAt?: number;
  scope?: string;
  /** The authorization server that issued them (its metadata is rediscovered for refresh and revocation). */
  issuer: string;
  clientId: string;
  /** When the user connected (epoch ms): shown on the Connections page. */
  connectedAt: number;
  /** A random id of this connection (kept across refreshes): what audit events and calls name. */
  connectionId: string;
}

const PREFIX = 'user-oauth';

/** The digest naming a user in secret names: stable, not reversible, 32 hex characters. */
export const userDigest = (user: string): string => createHash('sha256').update(`mcp-warden user\0${user}`).digest('hex').slice(0, 32);

export interface TokenScope {
  upstream: string;
  tenant: string | null;
}

const refOf = (user: string, s: TokenScope) => ({ name: `${PREFIX}/${s.upstream}/${userDigest(user)}`, tenant: s.tenant, environment: null, upstream: s.upstream });

export class TokenVault {
  constructor(private readonly vault: Vault) {}

  async get(user: string, scope: TokenScope): Promise<StoredTokens | undefined> {
    let bytes: Buffer;
    try {
      bytes = await this.vault.get(refOf(user, scope));
    } catch (err) {
      if (err instanceof SecretNotFound) return undefined;
      throw err;
    }
    try {
      const t = JSON.parse(bytes.toString('utf8')) as StoredTokens;
      // A value moved under another user's name fails the envelope's AAD already; this is the second lock.
      return t.user === user && t.upstream === scope.upstream ? t : undefined;
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * Replaces the stored tokens. The old row is deleted first, so a rotated refresh token is not kept as an
   * older version (a crash in between loses the connection: the user is asked to connect again).
   */
  async put(scope: TokenScope, tokens: StoredTokens): Promise<void> {
    const ref = refOf(tokens.user, scope);
    const value = Buffer.from(JSON.stringify(tokens), 'utf8');
    try {
      await this.vault.remove(ref);
      await this.vault.set(ref, value);
    } finally {
      value.fill(0);
    }
  }

  remove(user: string, scope: TokenScope): Promise<boolean> {
    return this.vault.remove(refOf(user, scope));
  }

  /** The upstreams `user` has tokens stored for (by the secrets' names: nothing is decrypted). */
  async upstreamsOf(user: string): Promise<string[]> {
    const digest = userDigest(user);
    const all = await this.vault.list();
    return all.filter((s) => s.name.startsWith(`${PREFIX}/`) && s.name.endsWith(`/${digest}`)).map((s) => s.name.split('/')[1]!);
  }
}
