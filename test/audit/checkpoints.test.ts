import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair } from 'jose';
import { checkCheckpoint, Checkpointer, thumbprint, withCheckpoints } from '../../src/audit/checkpoints.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { SigningKeys } from '../../src/identity/signing-keys.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { Logger } from '../../src/telemetry/log.js';
import { makeEvent } from '../store/store-suite.js';
import { testKeyRing } from '../helpers/vault.js';

/** A logger that keeps what was logged at error level. */
function recordingLogger(): { log: Logger; errors: unknown[] } {
  const errors: unknown[] = [];
  const log = { error: (o: unknown) => errors.push(o), info: () => {}, warn: () => {}, debug: () => {} } as unknown as Logger;
  return { log, errors };
}

describe('audit checkpoints', () => {
  const stores: Store[] = [];
  const fresh = async (): Promise<Store> => {
    const s = await openStore(':memory:');
    stores.push(s);
    return s;
  };
  after(async () => {
    for (const s of stores) await s.close();
  });

  const setup = async (alg: 'ES256' | 'EdDSA' = 'ES256') => {
    const store = await fresh();
    let now = Date.parse('2026-03-01T00:00:00.000Z');
    const clock = { now: () => now, advance: (ms: number) => (now += ms) };
    const keys = new SigningKeys(store.keys, testKeyRing(), alg, 24 * 3600_000, 3600_000, clock.now);
    const { log, errors } = recordingLogger();
    const cp = new Checkpointer({ audit: store.audit, keys, log, instance: 'gw-1', everyEvents: 10, everySeconds: 60, now: clock.now });
    const audit = withCheckpoints(store.audit, cp);
    const append = (n: number) => audit.append(Array.from({ length: n }, () => makeEvent()));
    return { store, clock, keys, cp, errors, append };
  };

  test('every N events: counted after each append, made in the background', async () => {
    const { store, cp, append } = await setup();
    await append(6);
    await cp.whenIdle();
    assert.equal(await store.audit.lastCheckpoint(), undefined, '6 < 10 and no time passed');
    await append(6);
    await cp.whenIdle();
    const c = await store.audit.lastCheckpoint();
    assert.equal(c?.seq, 12);
    assert.equal(c?.hash, (await store.audit.head())!.hash);
    assert.equal(c?.instance, 'gw-1');
    assert.equal((await verifyAudit(store)).checkpoints, 1);
  });

  test('every T seconds, when events are waiting', async () => {
    const { store, clock, cp, append } = await setup();
    await append(1);
    cp.maybeCheckpoint();
    await cp.whenIdle();
    assert.equal(await store.audit.lastCheckpoint(), undefined);
    clock.advance(61_000);
    cp.maybeCheckpoint();
    await cp.whenIdle();
    assert.equal((await store.audit.lastCheckpoint())?.seq, 1);
    clock.advance(61_000);
    cp.maybeCheckpoint();
    await cp.whenIdle();
    assert.equal((await store.audit.checkpoints(0, 10)).length, 1, 'nothing new to cover: no checkpoint');
  });

  test('chain-wide: a replica skips when another checkpointed recently; stop() covers the head', async () => {
    const { store, keys, clock, cp, append } = await setup();
    const other = new Checkpointer({ audit: store.audit, keys, log: recordingLogger().log, instance: 'gw-2', everyEvents: 10, everySeconds: 60, now: clock.now });
    await append(10);
    await cp.whenIdle();
    await store.audit.append([makeEvent(), makeEvent()]);
    assert.equal(await other.checkpoint(), undefined, '2 events and 0 s since the last checkpoint');
    await cp.stop();
    assert.equal((await store.audit.lastCheckpoint())?.seq, 10, 'stop() checkpoints only if this replica appended since');
    assert.equal((await other.checkpoint(true))?.seq, 12);
    assert.equal(await other.checkpoint(true), undefined, 'the head is checkpointed already');
  });

  test('a failure is logged, never thrown, and retried when the next one is due', async () => {
    const { store, keys } = await setup();
    const broken = Object.assign(Object.create(store.audit) as typeof store.audit, { head: () => Promise.reject(new Error('database gone')) });
    const { log, errors } = recordingLogger();
    const failing = new Checkpointer({ audit: broken, keys, log, instance: 'x', everyEvents: 1 });
    assert.doesNotThrow(() => failing.maybeCheckpoint(1));
    await failing.whenIdle();
    assert.equal(errors.length, 1);
    assert.match(JSON.stringify(errors[0]), /database gone/);
    failing.maybeCheckpoint(1);
    await failing.whenIdle();
    assert.equal(errors.length, 2, 'tried again');
  });

  test('EdDSA keys sign checkpoints too; the key is recorded once', async () => {
    const { store, cp, append } = await setup('EdDSA');
    await append(10);
    await cp.whenIdle();
    await append(10);
    await cp.whenIdle();
    const keys = await store.audit.keys();
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.alg, 'EdDSA');
    const r = await verifyAudit(store);
    assert.equal(r.ok, true, JSON.stringify(r.firstBroken));
    assert.equal(r.checkpoints, 2);
  });

  test('checkCheckpoint: the recorded key, the live key, the header and the content must agree', async () => {
    const { store, cp, append } = await setup();
    await append(10);
    await cp.whenIdle();
    const c = (await store.audit.lastCheckpoint())!;
    const recorded = new Map((await store.audit.keys()).map((k) => [k.kid, k]));
    assert.equal(await checkCheckpoint(c, recorded, new Map()), undefined);
    const other = await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey);
    assert.match((await checkCheckpoint(c, new Map(), new Map()))!, /not a recorded checkpoint key/);
    assert.match((await checkCheckpoint(c, recorded, new Map([[c.kid, other as Record<string, unknown>]])))!, /not the store's signing key/);
    assert.match((await checkCheckpoint({ ...c, publicJwk: other as Record<string, unknown> }, recorded, new Map()))!, /not the recorded key/);
    assert.match((await checkCheckpoint({ ...c, instance: 'elsewhere' }, recorded, new Map()))!, /signed content differs/);
    assert.match((await checkCheckpoint({ ...c, signature: 'x.y.z' }, recorded, new Map()))!, /does not verify/);
    assert.equal(await thumbprint({ kty: 'EC' }), undefined);
  });
});
