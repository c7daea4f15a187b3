/**
 * The Signer seam: gateway tokens and audit checkpoints are signed through `Signer.sign(bytes)`, so a key
 * that never leaves its holder (here a non-extractable WebCrypto key standing in for an HSM or a KMS) signs
 * them as well as the built-in sealed keys do. Tokens verify with jose against the published keys and through
 * the gateway's own verifier; checkpoints pass `audit verify`; ES256 and EdDSA both.
 */
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { compactVerify, createLocalJWKSet, exportJWK, importJWK, jwtVerify, type JWK } from 'jose';
import { Checkpointer, withCheckpoints } from '../../src/audit/checkpoints.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { GatewayTokens } from '../../src/identity/gateway-tokens.js';
import { LocalSigner, signCompact, type Signer, type SignerSource, type SigningAlg } from '../../src/identity/signer.js';
import { SigningKeys } from '../../src/identity/signing-keys.js';
import { openStore, type Store } from '../../src/store/index.js';
import { silentLogger } from '../../src/telemetry/log.js';
import { makeEvent } from '../store/store-suite.js';
import { testKeyRing } from '../helpers/vault.js';

const AUDIENCE = 'http://warden.test/mcp';

/** A KMS stand-in: the private key is a non-extractable CryptoKey; only sign() and the public key come out. */
async function externalSource(alg: SigningAlg): Promise<SignerSource & { signed: number }> {
  const params = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' };
  const pair = (await webcrypto.subtle.generateKey(params, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const publicJwk = await exportJWK(pair.publicKey);
  const source = {
    signed: 0,
    currentKid: 'kms-key-1' as string | undefined,
    current: async (): Promise<Signer> => ({
      kid: 'kms-key-1',
      alg,
      publicJwk,
      sign: async (data: Uint8Array) => {
        source.signed++;
        const sig = await webcrypto.subtle.sign(alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' }, pair.privateKey, data);
        return new Uint8Array(sig); // WebCrypto's ECDSA signature is already R || S, as JWS wants
      },
    }),
    publicJwks: async () => ({ keys: [{ ...publicJwk, kid: 'kms-key-1', alg, use: 'sig' } as JWK] }),
  };
  return source;
}

describe('the Signer seam', () => {
  const stores: Store[] = [];
  const fresh = async () => {
    const s = await openStore(':memory:');
    stores.push(s);
    return s;
  };
  after(async () => {
    for (const s of stores) await s.close();
  });

  for (const alg of ['ES256', 'EdDSA'] as const) {
    test(`${alg}: an external signer signs gateway tokens the gateway and jose accept, and checkpoints audit verify accepts`, async () => {
      const store = await fresh();
      const source = await externalSource(alg);
      const tokens = new GatewayTokens('http://warden.test', AUDIENCE, source, store.tokens, 60);
      const { token, record } = await tokens.mint({ agent: 'agent-a', user: 'alice', tenant: null, chain: [], scopes: ['mcp'], task: null, parentJti: null, expiresAt: Math.floor(Date.now() / 1000) + 300 });
      const principal = await tokens.verify(token);
      assert.equal(principal.tokenId, record.jti);
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await source.publicJwks()), { audience: AUDIENCE, issuer: 'http://warden.test', typ: 'at+jwt' });
      assert.deepEqual([protectedHeader.alg, protectedHeader.kid, payload.sub], [alg, 'kms-key-1', 'alice']);
      // A token altered after signing does not verify.
      const [h, p, s] = token.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'mallory' })).toString('base64url')}.${s}`;
      assert.notEqual(p, forged.split('.')[1]);
      await assert.rejects(tokens.verify(forged));

      const cp = new Checkpointer({ audit: store.audit, keys: source, log: silentLogger(), instance: 'kms', everyEvents: 1, everySeconds: 3600 });
      await withCheckpoints(store.audit, cp).append([makeEvent(), makeEvent()]);
      await cp.whenIdle();
      const result = await verifyAudit(store);
      assert.equal(result.ok, true, JSON.stringify(result.firstBroken));
      assert.equal(result.checkpoints, 1);
      assert.equal(source.signed, 2, 'one token and one checkpoint, both through sign()');
      // The store never saw a private key: it holds no signing key row at all.
      assert.deepEqual(await store.keys.list(new Date().toISOString()), []);
    });
  }

  test('signCompact matches what jose verifies, for the built-in sealed keys too', async () => {
    const store = await fresh();
    const keys = new SigningKeys(store.keys, testKeyRing(), 'EdDSA', 3600_000, 3600_000);
    const signer = await keys.current();
    assert.ok(signer instanceof LocalSigner);
    const jws = await signCompact(signer, { typ: 'test' }, new TextEncoder().encode('hello'));
    const { payload, protectedHeader } = await compactVerify(jws, await importJWK(signer.publicJwk, 'EdDSA'));
    assert.equal(new TextDecoder().decode(payload), 'hello');
    assert.deepEqual(protectedHeader, { typ: 'test', alg: 'EdDSA', kid: signer.kid });
    assert.equal('d' in signer.publicJwk, false, 'the signer tells only its public key');
  });
});
