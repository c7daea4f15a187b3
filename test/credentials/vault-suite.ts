/**
 * The vault on every store backend (run from the shared store suite): round trips, versions, scoping, list
 * without values, a wrong master key refused with nothing changed, and master key rotation (reads during it,
 * resuming after an interruption, the old key refused after it). Tampering is in tamper-suite.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { masterKeyId, SecretNotFound, Vault, VaultError, WrongMasterKey } from '../../src/credentials/index.js';
import type { SecretStore, Store } from '../../src/store/types.js';
import type { FreshHooks } from '../store/audit-v4-suite.js';
import { runTamperSuite } from './tamper-suite.js';

export const isVault = (code: string) => (e: unknown) => e instanceof VaultError && e.code === code;

/** Every row's wrap (old versions too), each secret's latest row and the list: what "nothing changed" compares. */
export async function dump(s: SecretStore): Promise<unknown> {
  const list = await s.list();
  return { list, wraps: await s.wrappedByOther('no-such-key', 10_000), latest: await Promise.all(list.map((m) => s.latest(m))), keys: await s.keyIds() };
}

/** Every encoding of a key or value an error or listing could leak. */
export const encodings = (b: Buffer): string[] => [b.toString('hex'), b.toString('base64'), b.toString('base64url'), b.toString('latin1')];

export function runVaultSuite(name: string, hooks: FreshHooks): void {
  describe(`vault: ${name}`, () => {
    const opened: Store[] = [];
    const track = async (s: Promise<Store>): Promise<Store> => {
      const store = await s;
      opened.push(store);
      return store;
    };
    after(async () => {
      for (const s of opened) await s.close();
    });
    const key = randomBytes(32);
    // The shared database also holds the store suite's fake rows (key ids k1, k2), which no key opens: these
    // tests share a database of their own instead.
    let shared: Promise<Store> | undefined;
    const openShared = (): Promise<Store> => (shared ??= track(hooks.openFresh()));

    test('round trip: strings and arbitrary bytes; not found is SecretNotFound', async () => {
      const vault = await Vault.open((await track(hooks.openFresh())).secrets, { current: key });
      const binary = Buffer.from([0, 255, 10, 13, 0, 1, 2]);
      assert.deepEqual(await vault.set({ name: 'github/token' }, 'ghp_ünïcødé ✓'), { version: 1 });
      assert.deepEqual(await vault.set({ name: 'bin', upstream: 'db' }, binary), { version: 1 });
      assert.equal((await vault.get({ name: 'github/token' })).toString('utf8'), 'ghp_ünïcødé ✓');
      assert.deepEqual(await vault.get({ name: 'bin', upstream: 'db' }), binary);
      await assert.rejects(vault.get({ name: 'nope' }), (e) => e instanceof SecretNotFound && isVault('vault_not_found')(e));
      await assert.rejects(vault.set({ name: 'empty' }, ''), isVault('vault_invalid_value'));
      await assert.rejects(vault.set({ name: 'big' }, Buffer.alloc(64 * 1024 + 1, 1)), isVault('vault_invalid_value'));
      for (const ref of [{ name: '' }, { name: 'has space' }, { name: '${x}' }, { name: 'a', tenant: '' }, { name: 'a', environment: 'x\ny' }]) {
        await assert.rejects(vault.set(ref, 'v'), isVault('vault_invalid_ref'), JSON.stringify(ref));
      }
    });

    test('versions: set on an existing name makes n+1, reads return the latest; rotate needs the secret', async () => {
      const vault = await Vault.open((await openShared()).secrets, { current: key });
      const ref = { name: `ver/${randomUUID()}`, environment: 'prod' };
      assert.deepEqual(await vault.set(ref, 'one'), { version: 1 });
      assert.deepEqual(await vault.set(ref, 'two'), { version: 2 });
      assert.deepEqual(await vault.rotate(ref, 'three'), { version: 3 });
      assert.equal((await vault.get(ref)).toString(), 'three');
      assert.equal((await vault.list({ name: ref.name }))[0]!.version, 3);
      const missing = { name: `ver/${randomUUID()}` };
      await assert.rejects(vault.rotate(missing, 'x'), isVault('vault_not_found'));
      assert.deepEqual(await vault.list({ name: missing.name }), [], 'a refused rotate writes nothing');
      // Concurrent writers each get a version of their own.
      const versions = await Promise.all(['a', 'b', 'c', 'd'].map((v) => vault.set(ref, v)));
      assert.deepEqual(versions.map((v) => v.version).sort(), [4, 5, 6, 7]);
      assert.equal(await vault.remove(ref), true);
      assert.equal(await vault.remove(ref), false);
      await assert.rejects(vault.get(ref), isVault('vault_not_found'));
    });

    test('scoping: one name in two tenants (or unscoped, or per upstream) is different secrets', async () => {
      const vault = await Vault.open((await openShared()).secrets, { current: key });
      const name = `scoped/${randomUUID()}`;
      const refs = [{ name }, { name, tenant: 'acme' }, { name, tenant: 'globex' }, { name, tenant: 'acme', environment: 'prod', upstream: 'github' }];
      for (const [i, ref] of refs.entries()) await vault.set(ref, `value-${i}`);
      for (const [i, ref] of refs.entries()) assert.equal((await vault.get(ref)).toString(), `value-${i}`);
      await assert.rejects(vault.get({ name, tenant: 'initech' }), isVault('vault_not_found'));
      assert.equal(await vault.remove({ name, tenant: 'acme' }), true);
      assert.equal((await vault.get({ name, tenant: 'globex' })).toString(), 'value-2');
      assert.deepEqual((await vault.list({ name })).map((m) => [m.tenant, m.environment, m.upstream]), [
        [null, null, null],
        ['acme', 'prod', 'github'],
        ['globex', null, null],
      ]);
    });

    test('list and the stored rows never hold the value', async () => {
      const s = await track(hooks.openFresh());
      const vault = await Vault.open(s.secrets, { current: key });
      const plain = `list-plaintext-${randomUUID()}`;
      await vault.set({ name: 'visible', tenant: 't' }, plain);
      await vault.set({ name: 'visible', tenant: 't' }, plain);
      const text = JSON.stringify(await vault.list()) + JSON.stringify(await dump(s.secrets), (_k, v: unknown) => v);
      for (const form of [...encodings(Buffer.from(plain)), plain]) assert.ok(!text.includes(form), `listing leaks ${form}`);
      const row = (await s.secrets.latest({ name: 'visible', tenant: 't', environment: null, upstream: null }))!;
      for (const field of [row.ciphertext, row.wrappedKey, row.iv, row.tag]) assert.equal(field.indexOf(Buffer.from(plain)), -1);
      assert.equal(row.keyId, masterKeyId(key));
      assert.match(row.keyId, /^[0-9a-f]{16}$/);
    });

    test('a wrong master key is refused, with nothing read, written or overwritten', async () => {
      const s = await track(hooks.openFresh());
      const right = await Vault.open(s.secrets, { current: key });
      for (const n of ['a', 'b', 'c']) await right.set({ name: n }, `v-${n}`);
      await right.set({ name: 'a' }, 'v-a2');
      const before = await dump(s.secrets);
      const wrong = randomBytes(32);
      const err = await Vault.open(s.secrets, { current: wrong }).catch((e: unknown) => e);
      assert.ok(err instanceof WrongMasterKey && isVault('vault_wrong_master_key')(err), String(err));
      assert.match(err.message, new RegExp(masterKeyId(key)));
      for (const form of [...encodings(key), ...encodings(wrong)]) assert.ok(!err.message.includes(form));
      await assert.rejects(Vault.rotateMasterKey(s.secrets, wrong, randomBytes(32)), isVault('vault_wrong_master_key'));
      await assert.rejects(Vault.open(s.secrets, { current: wrong, previous: [randomBytes(32)] }), isVault('vault_wrong_master_key'));
      assert.deepEqual(await dump(s.secrets), before);

      // A vault opened on an empty store, which another holder of a different key then wrote to: it refuses.
      const s2 = await track(hooks.openFresh());
      const early = await Vault.open(s2.secrets, { current: wrong });
      await (await Vault.open(s2.secrets, { current: key })).set({ name: 'x' }, 'first');
      const before2 = await dump(s2.secrets);
      await assert.rejects(early.set({ name: 'x' }, 'overwrite'), isVault('vault_wrong_master_key'));
      await assert.rejects(early.set({ name: 'y' }, 'new'), isVault('vault_wrong_master_key'));
      await assert.rejects(early.rotate({ name: 'x' }, 'overwrite'), isVault('vault_wrong_master_key'));
      await assert.rejects(early.remove({ name: 'x' }), isVault('vault_wrong_master_key'));
      await assert.rejects(early.get({ name: 'x' }), isVault('vault_wrong_master_key'));
      await assert.rejects(early.rotateMasterKey(), isVault('vault_wrong_master_key'));
      assert.deepEqual(await dump(s2.secrets), before2);
    });

    test('master key rotation re-wraps every row (values untouched), reads work throughout, the old key alone is refused after', async () => {
      const s = await track(hooks.openFresh());
      const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
      const writer = await Vault.open(s.secrets, { current: oldKey });
      const expected = new Map<string, string>();
      for (let i = 0; i < 23; i++) {
        const ref = { name: `r${String(i).padStart(2, '0')}`, tenant: i % 2 ? 'odd' : null };
        if (i % 5 === 0) await writer.set(ref, `stale-${i}`); // an older version to re-wrap too
        await writer.set(ref, `value-${i}`);
        expected.set(JSON.stringify(ref), `value-${i}`);
      }
      const before = (await s.secrets.wrappedByOther('x', 10_000)).length;
      const ciphertexts = await Promise.all([...expected.keys()].map(async (r) => (await s.secrets.latest({ environment: null, upstream: null, ...JSON.parse(r) }))!.ciphertext));
      const reader = await Vault.open(s.secrets, { current: newKey, previous: [oldKey] });
      const readAll = async (v: Vault) => {
        for (const [r, value] of expected) assert.equal((await v.get(JSON.parse(r))).toString(), value);
      };
      const seen: number[] = [];
      const result = await Vault.rotateMasterKey(s.secrets, oldKey, newKey, {
        batchSize: 4,
        onBatch: async ({ rewrapped }) => {
          seen.push(rewrapped);
          await readAll(reader); // mid-rotation: rows under either key read fine
        },
      });
      assert.deepEqual(result, { rewrapped: before, keyId: masterKeyId(newKey) });
      assert.ok(seen.length >= 7 && seen.at(-1) === before, String(seen));
      assert.deepEqual(await s.secrets.keyIds(), [{ keyId: masterKeyId(newKey), rows: before }]);
      const after = await Promise.all([...expected.keys()].map(async (r) => (await s.secrets.latest({ environment: null, upstream: null, ...JSON.parse(r) }))!.ciphertext));
      assert.deepEqual(after, ciphertexts, 'values are not re-encrypted');
      await assert.rejects(Vault.open(s.secrets, { current: oldKey }), isVault('vault_wrong_master_key'));
      await assert.rejects(writer.get({ name: 'r00' }), isVault('vault_wrong_master_key'));
      await readAll(await Vault.open(s.secrets, { current: newKey }));
      assert.deepEqual(await Vault.rotateMasterKey(s.secrets, oldKey, newKey), { rewrapped: 0, keyId: masterKeyId(newKey) });
    });

    test('an interrupted rotation leaves every row readable with both keys, refuses either key alone, and resumes', async () => {
      const s = await track(hooks.openFresh());
      const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
      const writer = await Vault.open(s.secrets, { current: oldKey });
      for (let i = 0; i < 10; i++) await writer.set({ name: `i${i}` }, `v${i}`);
      const stop = new Error('interrupted');
      await assert.rejects(
        Vault.rotateMasterKey(s.secrets, oldKey, newKey, {
          batchSize: 3,
          onBatch: () => {
            throw stop;
          },
        }),
        (e) => e === stop,
      );
      assert.deepEqual((await s.secrets.keyIds()).map((k) => k.rows).sort(), [3, 7]);
      const both = await Vault.open(s.secrets, { current: newKey, previous: [oldKey] });
      for (let i = 0; i < 10; i++) assert.equal((await both.get({ name: `i${i}` })).toString(), `v${i}`);
      await assert.rejects(Vault.open(s.secrets, { current: oldKey }), isVault('vault_wrong_master_key'));
      await assert.rejects(Vault.open(s.secrets, { current: newKey }), isVault('vault_wrong_master_key'));
      assert.equal((await Vault.rotateMasterKey(s.secrets, oldKey, newKey, { batchSize: 3 })).rewrapped, 7);
      const only = await Vault.open(s.secrets, { current: newKey });
      for (let i = 0; i < 10; i++) assert.equal((await only.get({ name: `i${i}` })).toString(), `v${i}`);
    });
  });

  runTamperSuite(name, hooks);
}
