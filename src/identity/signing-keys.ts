/**
 * The gateway's token-signing keys, kept in the store so every replica signs and verifies with the same set.
 * A key signs for `rotation` and stays published until the last token it signed has expired.
 */
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { uuidv7 } from '../core/ids.js';
import type { KeyStore, SigningKeyRecord } from '../store/types.js';

export interface ActiveKey {
  kid: string;
  alg: string;
  key: CryptoKey | Uint8Array;
}

export class SigningKeys {
  private cached?: { record: SigningKeyRecord; key: ActiveKey };

  constructor(
    private readonly store: KeyStore,
    private readonly alg: 'ES256' | 'EdDSA',
    private readonly rotationMs: number,
    /** How long after a key stops signing it must stay published: the longest token life plus skew. */
    private readonly publishAfterRetireMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key to sign with now, creating one when none is current. */
  async current(): Promise<ActiveKey> {
    const now = this.now();
    if (this.cached && Date.parse(this.cached.record.retireAt) > now) return this.cached.key;
    const keys = await this.store.list(new Date(now).toISOString());
    let record = keys.find((k) => k.alg === this.alg && Date.parse(k.retireAt) > now);
    if (!record) {
      record = await this.generate(now);
      await this.store.insert(record);
      await this.store.prune(new Date(now).toISOString());
    }
    const key = { kid: record.kid, alg: record.alg, key: await importJWK(record.privateJwk as JWK, record.alg) };
    this.cached = { record, key };
    return key;
  }

  /** The kid this process signs with now, if it has signed anything. */
  get currentKid(): string | undefined {
    return this.cached?.record.kid;
  }

  /** The public keys to publish and verify with: every key not yet expired. */
  async publicJwks(): Promise<{ keys: JWK[] }> {
    const keys = await this.store.list(new Date(this.now()).toISOString());
    return { keys: keys.map((k) => ({ ...(k.publicJwk as JWK), kid: k.kid, alg: k.alg, use: 'sig' })) };
  }

  private async generate(now: number): Promise<SigningKeyRecord> {
    const { publicKey, privateKey } = await generateKeyPair(this.alg, { extractable: true, ...(this.alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
    const retire = now + this.rotationMs;
    return {
      kid: uuidv7(now),
      alg: this.alg,
      publicJwk: (await exportJWK(publicKey)) as Record<string, unknown>,
      privateJwk: (await exportJWK(privateKey)) as Record<string, unknown>,
      createdAt: new Date(now).toISOString(),
      retireAt: new Date(retire).toISOString(),
      expireAt: new Date(retire + this.publishAfterRetireMs).toISOString(),
    };
  }
}
