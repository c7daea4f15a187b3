/**
 * The vault against a SQLite file changed behind its back with raw SQL: each column of a row altered in
 * place, ciphertexts swapped between rows, a wrong master key compared row by row before and after, and the
 * database file searched for the plaintext.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SecretTampered, Vault, VaultError } from '../../src/credentials/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-vault-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const isVault = (code: string) => (e: unknown) => e instanceof VaultError && e.code === code;
let files = 0;

async function fresh(): Promise<{ store: Store; file: string; raw: Database.Database }> {
  const file = join(dir, `v${++files}.db`);
  const store = await openStore(file);
  return { store, file, raw: new Database(file) };
}

const rows = (raw: Database.Database): unknown[] => raw.prepare('SELECT * FROM warden_secrets ORDER BY rowid').all();

describe('vault on a SQLite file changed with raw SQL', () => {
  test('each column changed in place is refused as tampered; the original row reads again', async () => {
    const { store, raw } = await fresh();
    const vault = await Vault.open(store.secrets, { current: randomBytes(32) });
    await vault.set({ name: 'a', tenant: 't' }, 'value-a');
    await vault.set({ name: 'b', tenant: 't' }, 'value-b');
    const updates: Array<[string, string, { name: string; tenant?: string | null }]> = [
      ['ciphertext byte', "UPDATE warden_secrets SET ciphertext = CAST(zeroblob(length(ciphertext)) AS BLOB) WHERE name = 'a'", { name: 'a', tenant: 't' }],
      ['tag', "UPDATE warden_secrets SET tag = randomblob(16) WHERE name = 'a'", { name: 'a', tenant: 't' }],
      ['iv', "UPDATE warden_secrets SET iv = randomblob(12) WHERE name = 'a'", { name: 'a', tenant: 't' }],
      ['wrapped key', "UPDATE warden_secrets SET wrapped_key = randomblob(60) WHERE name = 'a'", { name: 'a', tenant: 't' }],
      ['tenant', "UPDATE warden_secrets SET tenant = 'u' WHERE name = 'a'", { name: 'a', tenant: 'u' }],
      ['tenant to NULL', "UPDATE warden_secrets SET tenant = NULL WHERE name = 'a'", { name: 'a', tenant: null }],
      ['name', "UPDATE warden_secrets SET name = 'c' WHERE name = 'a'", { name: 'c', tenant: 't' }],
      ['version', "UPDATE warden_secrets SET version = 7 WHERE name = 'a'", { name: 'a', tenant: 't' }],
      [
        'ciphertext, iv and tag of b moved into a',
        "UPDATE warden_secrets SET (ciphertext, iv, tag) = (SELECT ciphertext, iv, tag FROM warden_secrets WHERE name = 'b') WHERE name = 'a'",
        { name: 'a', tenant: 't' },
      ],
      [
        'the whole envelope of b moved into a',
        "UPDATE warden_secrets SET (wrapped_key, ciphertext, iv, tag) = (SELECT wrapped_key, ciphertext, iv, tag FROM warden_secrets WHERE name = 'b') WHERE name = 'a'",
        { name: 'a', tenant: 't' },
      ],
    ];
    for (const [label, sql, ref] of updates) {
      const saved = raw.prepare("SELECT * FROM warden_secrets WHERE name = 'a'").get() as Record<string, unknown>;
      raw.prepare(sql).run();
      await assert.rejects(vault.get(ref), (e) => e instanceof SecretTampered && isVault('vault_tampered')(e), label);
      assert.equal((await vault.get({ name: 'b', tenant: 't' })).toString(), 'value-b', label);
      raw.prepare("DELETE FROM warden_secrets WHERE name <> 'b'").run(); // the tampered row, wherever it moved
      const cols = Object.keys(saved);
      raw.prepare(`INSERT INTO warden_secrets (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`).run(saved);
      assert.equal((await vault.get({ name: 'a', tenant: 't' })).toString(), 'value-a', `${label}: restored`);
    }
    raw.close();
    await store.close();
  });

  test('a wrong master key changes no row: open, set, rotate, rm and rotate-master all refuse', async () => {
    const { store, raw } = await fresh();
    const key = randomBytes(32);
    const vault = await Vault.open(store.secrets, { current: key });
    await vault.set({ name: 'keep' }, 'v1');
    await vault.set({ name: 'keep' }, 'v2');
    await vault.set({ name: 'other', upstream: 'x' }, 'v3');
    const before = rows(raw);
    const wrong = randomBytes(32);
    await assert.rejects(Vault.open(store.secrets, { current: wrong }), isVault('vault_wrong_master_key'));
    await assert.rejects(Vault.rotateMasterKey(store.secrets, wrong, randomBytes(32)), isVault('vault_wrong_master_key'));
    // A vault that opened before rows under another key appeared refuses every write.
    const second = await openStore(join(dir, `v${files}.db`));
    const early = await Vault.open(second.secrets, { current: key });
    assert.equal((await early.get({ name: 'keep' })).toString(), 'v2');
    raw.prepare("UPDATE warden_secrets SET key_id = 'feedfacefeedface' WHERE name = 'other'").run();
    const changed = rows(raw);
    await assert.rejects(early.set({ name: 'keep' }, 'overwrite'), isVault('vault_wrong_master_key'));
    await assert.rejects(early.rotate({ name: 'keep' }, 'overwrite'), isVault('vault_wrong_master_key'));
    await assert.rejects(early.remove({ name: 'keep' }), isVault('vault_wrong_master_key'));
    await assert.rejects(early.rotateMasterKey(), isVault('vault_wrong_master_key'));
    await assert.rejects(early.get({ name: 'other', upstream: 'x' }), isVault('vault_wrong_master_key'));
    assert.deepEqual(rows(raw), changed);
    raw.prepare("UPDATE warden_secrets SET key_id = ? WHERE name = 'other'").run((before[0] as { key_id: string }).key_id);
    assert.deepEqual(rows(raw), before);
    raw.close();
    await store.close();
  });

  test('the database file and its WAL never hold the plaintext, in any encoding', async () => {
    const { store, file, raw } = await fresh();
    raw.close();
    const key = randomBytes(32);
    const vault = await Vault.open(store.secrets, { current: key });
    const plain = `plaintext-${randomBytes(8).toString('hex')}`;
    await vault.set({ name: 'needle' }, plain);
    await vault.rotate({ name: 'needle' }, plain + '-2');
    await Vault.rotateMasterKey(store.secrets, key, randomBytes(32));
    await store.close();
    for (const f of [file, `${file}-wal`].filter(existsSync)) {
      const bytes = readFileSync(f);
      for (const form of [plain, Buffer.from(plain).toString('base64'), Buffer.from(plain).toString('hex'), key.toString('hex')]) {
        assert.equal(bytes.indexOf(form), -1, `${f} holds ${form}`);
      }
      assert.equal(bytes.indexOf(key), -1, `${f} holds the master key`);
    }
  });
});
