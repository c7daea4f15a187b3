/**
 * The gateway's signing keys, kept in the store so every replica signs and verifies with the same set. A key
 * signs for `rotation` and stays published until the last token it signed has expired. Private keys are
 * sealed under the vault master key (sealed-key.ts): the store alone gives no one a key to sign with.
 *
 *   const keys = new SigningKeys(store.keys, ring, 'ES256', rotationMs, publishAfterRetireMs)
 *   await keys.prepare()              // at start: seals clear keys, checks every key opens
 *   const signer = await keys.current()
 */
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { uuidv7 } from '../core/ids.js';
import type { MasterKeyRing } from '../credentials/index.js';
import type { KeyStore, SigningKeyRecord } from '../store/types.js';
import { clearPrivateJwk, isSealed, openPrivateKey, sealedKeyId, sealPrivateKey, SigningKeyTampered } from './sealed-key.js';
import { LocalSigner, type Signer, type SignerSource, type SigningAlg } from './signer.js';

export interface PrepareResult {
  /** Keys found with their private part in clear (a store from before keys were sealed) and sealed now. */
  sealed: string[];
  /** Keys wrapped by a previous master key and re-wrapped under the current one. */
  rewrapped: string[];
}

export class SigningKeys implements SignerSource {
  private cached?: { record: SigningKeyRecord; signer: Signer };

  constructor(
    private readonly store: KeyStore,
    private readonly ring: MasterKeyRing,
    private readonly alg: SigningAlg,
    private readonly rotationMs: number,
    /** How long after a key stops signing it must stay published: the longest token life plus skew. */
    private readonly publishAfterRetireMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Seals every key whose private part is in clear, re-wraps keys wrapped by a previous master key under the
   * current one, and checks that every key opens. Throws SigningKeyLocked (a key wrapped by a master key not
   * given) or SigningKeyTampered: a gateway that could not sign with its keys does not start.
   */
  async prepare(): Promise<PrepareResult> {
    return rewrapSigningKeys(this.store, this.ring, new Date(this.now()).toISOString());
  }

  /** The signer to use now, creating a key when none is current. */
  async current(): Promise<Signer> {
    const now = this.now();
    if (this.cached && Date.parse(this.cached.record.retireAt) > now) return this.cached.signer;
    const keys = await this.store.list(new Date(now).toISOString());
    let record = keys.find((k) => k.alg === this.alg && Date.parse(k.retireAt) > now);
    if (!record) {
      record = await this.generate(now);
      await this.store.insert(record);
      await this.store.prune(new Date(now).toISOString());
    }
    const signer = new LocalSigner(record.kid, record.alg as SigningAlg, publicOf(record), this.open(record));
    this.cached = { record, signer };
    return signer;
  }

  /** The kid this process signs with now, if it has signed anything. */
  get currentKid(): string | undefined {
    return this.cached?.record.kid;
  }

  /** The public keys to publish and verify with: every key not yet expired. */
  async publicJwks(): Promise<{ keys: JWK[] }> {
    const keys = await this.store.list(new Date(this.now()).toISOString());
    return { keys: keys.map((k) => ({ ...publicOf(k), kid: k.kid, alg: k.alg, use: 'sig' })) };
  }

  /** The private JWK of a stored key; a clear one (sealed by prepare() at start) is refused, never used. */
  private open(record: SigningKeyRecord): JWK {
    if (!isSealed(record.privateKey)) {
      throw new SigningKeyTampered(`signing key ${record.kid} is stored in clear: restart the gateway with a master key to seal it`);
    }
    return openPrivateKey(record, record.privateKey, this.ring);
  }

  private async generate(now: number): Promise<SigningKeyRecord> {
    const options = { extractable: true, ...(this.alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) };
    const { publicKey, privateKey } = await generateKeyPair(this.alg, options);
    const retire = now + this.rotationMs;
    const kid = uuidv7(now);
    const publicJwk = (await exportJWK(publicKey)) as Record<string, unknown>;
    return {
      kid,
      alg: this.alg,
      publicJwk,
      privateKey: sealPrivateKey({ kid, alg: this.alg, publicJwk }, await exportJWK(privateKey), this.ring.current),
      createdAt: new Date(now).toISOString(),
      retireAt: new Date(retire).toISOString(),
      expireAt: new Date(retire + this.publishAfterRetireMs).toISOString(),
    };
  }
}

const publicOf = (k: SigningKeyRecord): JWK => {
  const { d: _d, ...pub } = k.publicJwk as JWK;
  return pub;
};

/**
 * Every stored key sealed under the ring's current master key: clear ones sealed, ones wrapped by a previous
 * master key re-wrapped (each by compare-and-set, so replicas doing it at once agree). Opens each key first,
 * so a key no given master key opens stops it with nothing changed for that key. Run at gateway start and
 * by `warden secret rotate-master`.
 */
export async function rewrapSigningKeys(store: KeyStore, ring: MasterKeyRing, now: string): Promise<PrepareResult> {
  const result: PrepareResult = { sealed: [], rewrapped: [] };
  // Expired keys sign and verify nothing: they go rather than stay in clear.
  await store.prune(now);
  for (const k of await store.list(now)) {
    const clear = clearPrivateJwk(k.privateKey);
    if (clear === undefined && sealedKeyId(k.privateKey) === ring.current.id) {
      openPrivateKey(k, k.privateKey, ring);
      continue;
    }
    const jwk = clear ?? openPrivateKey(k, k.privateKey, ring);
    const next = sealPrivateKey(k, jwk, ring.current);
    if (await store.replacePrivate(k.kid, k.privateKey, next)) (clear ? result.sealed : result.rewrapped).push(k.kid);
  }
  return result;
}
