/**
 * Tampering, on every store backend: each stored field of a row is changed in the database (the row is
 * rewritten through the backend, as someone with write access to the table would), and the vault must refuse
 * it with vault_tampered, returning no value at all, while the untouched rows still read. The raw-SQL variant
 * on SQLite is in vault-sqlite.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { masterKeyId, SecretTampered, Vault } from '../../src/credentials/index.js';
import type { SecretIdentity, SecretRecord, SecretStore, Store } from '../../src/store/types.js';
import type { FreshHooks } from '../store/audit-v4-suite.js';

const flip = (b: Buffer, at: number): Buffer => {
  const c = Buffer.from(b);
  c[at < 0 ? c.length + at : at]! ^= 0x01;
  return c;
};

/** Replaces the stored row `from` by `to` (another identity or version is allowed: a moved row). */
async function rewrite(s: SecretStore, from: SecretRecord, to: SecretRecord): Promise<void> {
  assert.ok((await s.remove(from)) >= 1);
  assert.equal(await s.insert(to), true);
}

export function runTamperSuite(name: string, hooks: FreshHooks): void {
  describe(`vault tampering: ${name}`, () => {
    let store: Store | undefined;
    after(() => store?.close());
    const [key, otherKey] = [randomBytes(32), randomBytes(32)];
    const plain = 'tamper-plaintext-4f2a9c';
    const a: SecretIdentity = { name: 'victim', tenant: 'acme', environment: 'prod', upstream: 'github' };
    const b: SecretIdentity = { name: 'other', tenant: 'acme', environment: 'prod', upstream: 'github' };

    // Each case turns the victim's row (and the other row, for moves) into what is stored instead, and names the ref to read.
    const cases: Array<[string, (v: SecretRecord, o: SecretRecord, otherId: string) => { row: SecretRecord; read: SecretIdentity }]> = [
      ['ciphertext: first byte flipped', (v) => ({ row: { ...v, ciphertext: flip(v.ciphertext, 0) }, read: a })],
      ['ciphertext: last byte flipped', (v) => ({ row: { ...v, ciphertext: flip(v.ciphertext, -1) }, read: a })],
      ['ciphertext: truncated', (v) => ({ row: { ...v, ciphertext: v.ciphertext.subarray(1) }, read: a })],
      ['ciphertext: extended', (v) => ({ row: { ...v, ciphertext: Buffer.concat([v.ciphertext, Buffer.from([0])]) }, read: a })],
      ['tag: byte flipped', (v) => ({ row: { ...v, tag: flip(v.tag, 5) }, read: a })],
      ['tag: truncated to 4 bytes', (v) => ({ row: { ...v, tag: v.tag.subarray(0, 4) }, read: a })],
      ['iv: byte flipped', (v) => ({ row: { ...v, iv: flip(v.iv, 11) }, read: a })],
      ['iv: 16 bytes', (v) => ({ row: { ...v, iv: Buffer.concat([v.iv, Buffer.alloc(4)]) }, read: a })],
      ['wrapped key: its IV flipped', (v) => ({ row: { ...v, wrappedKey: flip(v.wrappedKey, 0) }, read: a })],
      ['wrapped key: its ciphertext flipped', (v) => ({ row: { ...v, wrappedKey: flip(v.wrappedKey, 20) }, read: a })],
      ['wrapped key: its tag flipped', (v) => ({ row: { ...v, wrappedKey: flip(v.wrappedKey, -1) }, read: a })],
      ['wrapped key: truncated', (v) => ({ row: { ...v, wrappedKey: v.wrappedKey.subarray(0, 44) }, read: a })],
      ['master key id: set to another configured key', (v, _o, otherId) => ({ row: { ...v, keyId: otherId }, read: a })],
      ['AAD: name changed (row moved to another name)', (v) => ({ row: { ...v, name: 'renamed' }, read: { ...a, name: 'renamed' } })],
      ['AAD: tenant changed', (v) => ({ row: { ...v, tenant: 'globex' }, read: { ...a, tenant: 'globex' } })],
      ['AAD: environment removed', (v) => ({ row: { ...v, environment: null }, read: { ...a, environment: null } })],
      ['AAD: upstream changed', (v) => ({ row: { ...v, upstream: 'gitlab' }, read: { ...a, upstream: 'gitlab' } })],
      ['AAD: version bumped', (v) => ({ row: { ...v, version: v.version + 1 }, read: a })],
      ['moved: the other row’s whole envelope into this row', (v, o) => ({ row: { ...v, keyId: o.keyId, wrappedKey: o.wrappedKey, iv: o.iv, ciphertext: o.ciphertext, tag: o.tag }, read: a })],
      ['moved: the other row’s ciphertext, iv and tag under this row’s data key', (v, o) => ({ row: { ...v, iv: o.iv, ciphertext: o.ciphertext, tag: o.tag }, read: a })],
      ['moved: the other row’s wrapped data key', (v, o) => ({ row: { ...v, wrappedKey: o.wrappedKey }, read: a })],
    ];

    test('every changed stored field is refused as vault_tampered, with no value; the row restored reads again', async () => {
      store = await hooks.openFresh();
      const s = store.secrets;
      // A second configured key: a row relabelled with its id is then tried with it (and fails), not refused as unknown.
      const vault = await Vault.open(s, { current: key, previous: [otherKey] });
      await vault.set(a, plain);
      await vault.set(b, 'other-plaintext');
      const victim = (await s.latest(a))!;
      const other = (await s.latest(b))!;
      for (const [label, make] of cases) {
        const { row, read } = make(victim, other, masterKeyId(otherKey));
        await rewrite(s, victim, row);
        const err = await vault.get(read).then(
          (v) => assert.fail(`${label}: read ${v.length} bytes of a tampered row`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof SecretTampered && err.code === 'vault_tampered', `${label}: ${String(err)}`);
        assert.ok(!err.message.includes(plain) && !err.message.includes('other-plaintext'), label);
        assert.equal((await vault.get(b)).toString(), 'other-plaintext', `${label}: the other row still reads`);
        await rewrite(s, row, victim);
        assert.equal((await vault.get(a)).toString(), plain, `${label}: restored`);
      }
    });

    test('master key rotation stops at a tampered wrapped key, changes nothing more, and resumes once it is removed', async () => {
      const s2 = await hooks.openFresh();
      try {
        const s = s2.secrets;
        const vault = await Vault.open(s, { current: key });
        for (const n of ['a1', 'a2', 'a3']) await vault.set({ name: n }, `v-${n}`);
        const bad = (await s.latest({ name: 'a2', tenant: null, environment: null, upstream: null }))!;
        await rewrite(s, bad, { ...bad, wrappedKey: flip(bad.wrappedKey, 30) });
        const newKey = randomBytes(32);
        await assert.rejects(Vault.rotateMasterKey(s, key, newKey, { batchSize: 10 }), (e) => e instanceof SecretTampered);
        assert.deepEqual((await s.keyIds()).map((k) => k.rows).sort(), [1, 2], 'a1 re-wrapped before the bad row; a3 untouched');
        assert.equal(await s.remove(bad), 1);
        assert.equal((await Vault.rotateMasterKey(s, key, newKey)).rewrapped, 1);
        const after = await Vault.open(s, { current: newKey });
        assert.equal((await after.get({ name: 'a3' })).toString(), 'v-a3');
      } finally {
        await s2.close();
      }
    });
  });
}
