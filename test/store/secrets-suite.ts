/**
 * The shared suite's part for schema version 5: the SecretStore contract, then the vault on top of it
 * (test/credentials/vault-suite.ts). Tests share one database, so each uses names of its own; those that
 * look at the whole table (key ids, re-wrap pages) get a fresh database from `hooks.openFresh`.
 */
import { trackedStores } from './tracked.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { StoreError, type Store } from '../../src/store/index.js';
import type { SecretIdentity, SecretRecord } from '../../src/store/types.js';
import { runVaultSuite } from '../credentials/vault-suite.js';
import type { FreshHooks } from './audit-v4-suite.js';

const T0 = '2100-01-01T00:00:00.000Z';
const T1 = '2100-01-02T00:00:00.000Z';
const T2 = '2100-01-03T00:00:00.000Z';

export function makeRecord(id: SecretIdentity, version: number, keyId = 'k1', createdAt = T0): SecretRecord {
  return {
    ...id,
    version,
    keyId,
    wrappedKey: randomBytes(60),
    iv: randomBytes(12),
    ciphertext: randomBytes(20),
    tag: randomBytes(16),
    createdAt,
    updatedAt: createdAt,
  };
}

const unscoped = (name: string): SecretIdentity => ({ name, tenant: null, environment: null, upstream: null });
const isClosed = (e: unknown) => e instanceof StoreError && e.code === 'store_unavailable';

export function runSecretsSuite(name: string, open: () => Promise<Store>, hooks: FreshHooks): void {
  describe(`store suite (secrets): ${name}`, () => {
    const track = trackedStores();

    test('insert then latest round-trips every field, bytes exact; a duplicate version inserts nothing', async () => {
      const s = await track(open());
      const id: SecretIdentity = { name: `rt/${randomUUID()}`, tenant: 'tënant ✓', environment: 'prod', upstream: 'github' };
      const v1 = makeRecord(id, 1, 'k1', T0);
      const v2 = { ...makeRecord(id, 2, 'k2', T1), updatedAt: T2 };
      assert.equal(await s.secrets.insert(v1), true);
      assert.equal(await s.secrets.insert(v2), true);
      assert.deepEqual(await s.secrets.latest(id), v2);
      assert.equal(await s.secrets.insert({ ...makeRecord(id, 2) }), false);
      assert.deepEqual(await s.secrets.latest(id), v2, 'the losing insert changed nothing');
      assert.equal(await s.secrets.latest({ ...id, name: `${id.name}-missing` }), undefined);
    });

    test('scope is part of the identity; an unscoped identity is unique too (NULLs do not slip past the index)', async () => {
      const s = await track(open());
      const n = `scope/${randomUUID()}`;
      const ids: SecretIdentity[] = [
        unscoped(n),
        { ...unscoped(n), tenant: 'a' },
        { ...unscoped(n), tenant: 'b' },
        { ...unscoped(n), environment: 'a' },
        { ...unscoped(n), upstream: 'a' },
        { name: n, tenant: 'a', environment: 'a', upstream: 'a' },
      ];
      for (const id of ids) assert.equal(await s.secrets.insert(makeRecord(id, 1)), true, JSON.stringify(id));
      for (const id of ids) assert.equal(await s.secrets.insert(makeRecord(id, 1)), false, JSON.stringify(id));
      for (const id of ids) assert.deepEqual(pickId(await s.secrets.latest(id)), id);
      await assert.rejects(s.secrets.insert(makeRecord({ ...unscoped(n), tenant: '' }, 1)), RangeError);
      await assert.rejects(s.secrets.latest({ ...unscoped(''), tenant: null }), RangeError);
    });

    test('list: the latest version of each secret, metadata only, filtered, in order', async () => {
      const s = await track(open());
      const n = `list/${randomUUID()}`;
      const a = unscoped(n);
      const b = { ...unscoped(n), tenant: 'acme' };
      await s.secrets.insert(makeRecord(a, 1, 'k1', T0));
      await s.secrets.insert(makeRecord(a, 2, 'k2', T1));
      await s.secrets.insert(makeRecord(b, 1, 'k1', T2));
      const listed = await s.secrets.list({ name: n });
      assert.deepEqual(listed, [
        { ...a, version: 2, keyId: 'k2', createdAt: T0, updatedAt: T1 },
        { ...b, version: 1, keyId: 'k1', createdAt: T2, updatedAt: T2 },
      ]);
      for (const m of listed) assert.deepEqual(Object.keys(m).sort(), ['createdAt', 'environment', 'keyId', 'name', 'tenant', 'updatedAt', 'upstream', 'version']);
      assert.deepEqual((await s.secrets.list({ name: n, tenant: 'acme' })).map((m) => m.tenant), ['acme']);
      assert.deepEqual((await s.secrets.list({ name: n, tenant: null })).map((m) => m.tenant), [null]);
      assert.deepEqual(await s.secrets.list({ name: n, upstream: 'other' }), []);
      assert.ok((await s.secrets.list()).filter((m) => m.name === n).length === 2);
    });

    test('remove deletes every version of one identity only', async () => {
      const s = await track(open());
      const n = `rm/${randomUUID()}`;
      const a = unscoped(n);
      const b = { ...a, environment: 'dev' };
      for (const v of [1, 2, 3]) await s.secrets.insert(makeRecord(a, v));
      await s.secrets.insert(makeRecord(b, 1));
      assert.equal(await s.secrets.remove(a), 3);
      assert.equal(await s.secrets.remove(a), 0);
      assert.equal(await s.secrets.latest(a), undefined);
      assert.equal((await s.secrets.latest(b))?.version, 1);
    });

    test('key ids, re-wrap pages and the re-wrap compare-and-set', async () => {
      const s = await track(hooks.openFresh());
      assert.deepEqual(await s.secrets.keyIds(), []);
      const ids = Array.from({ length: 5 }, (_, i) => unscoped(`rw/${i}`));
      for (const id of ids) await s.secrets.insert(makeRecord(id, 1, 'old'));
      await s.secrets.insert(makeRecord(ids[0]!, 2, 'new'));
      assert.deepEqual(await s.secrets.keyIds(), [
        { keyId: 'new', rows: 1 },
        { keyId: 'old', rows: 5 },
      ]);
      const page = await s.secrets.wrappedByOther('new', 3);
      assert.deepEqual(page.map((w) => [w.name, w.version, w.keyId]), [['rw/0', 1, 'old'], ['rw/1', 1, 'old'], ['rw/2', 1, 'old']]);
      const fresh = randomBytes(60);
      assert.equal(await s.secrets.rewrap(page[0]!, 'new', fresh, T1), true);
      // A stale view (the row changed since it was read) changes nothing.
      assert.equal(await s.secrets.rewrap(page[0]!, 'new', randomBytes(60), T2), false);
      assert.equal(await s.secrets.rewrap({ ...page[1]!, wrappedKey: randomBytes(60) }, 'new', fresh, T2), false);
      const row = (await s.secrets.list({ name: 'rw/0' }))[0]!;
      assert.equal(row.version, 2, 'v2 is still the latest');
      const rows = await s.secrets.wrappedByOther('new', 10);
      assert.deepEqual(rows.map((w) => w.name), ['rw/1', 'rw/2', 'rw/3', 'rw/4']);
      assert.deepEqual(await s.secrets.keyIds(), [
        { keyId: 'new', rows: 2 },
        { keyId: 'old', rows: 4 },
      ]);
      await assert.rejects(s.secrets.wrappedByOther('new', 0), RangeError);
      await assert.rejects(s.secrets.rewrap(page[1]!, 'new', fresh, 'yesterday'), RangeError);
    });

    test('a closed store rejects the secret calls', async () => {
      const s = await open();
      await s.close();
      const id = unscoped('closed');
      await assert.rejects(s.secrets.latest(id), isClosed);
      await assert.rejects(s.secrets.insert(makeRecord(id, 1)), isClosed);
      await assert.rejects(s.secrets.list(), isClosed);
      await assert.rejects(s.secrets.remove(id), isClosed);
      await assert.rejects(s.secrets.keyIds(), isClosed);
      await assert.rejects(s.secrets.wrappedByOther('k', 1), isClosed);
    });
  });

  runVaultSuite(name, hooks);
}

function pickId(r: SecretRecord | undefined): SecretIdentity | undefined {
  return r === undefined ? undefined : { name: r.name, tenant: r.tenant, environment: r.environment, upstream: r.upstream };
}
