/**
 * User tokens in the vault (src/credentials/user-oauth/token-vault.ts) against a SQLite file changed behind
 * the gateway's back: alice's row renamed to bob's identity, or copied over bob's, must never give bob
 * alice's token (the envelope binds the value to its name; the stored user is checked again), and the file
 * never holds a token in the clear.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { SecretTampered, Vault } from '../../src/credentials/index.js';
import { TokenVault, userDigest, type StoredTokens } from '../../src/credentials/user-oauth/token-vault.js';
import { openStore } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-token-vault-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tokens = (user: string, access: string): StoredTokens => ({ user, upstream: 'jira', accessToken: access, refreshToken: `${access}-refresh`, issuer: 'https://as.example', clientId: 'c', connectedAt: 1, connectionId: 'x' });
const scope = { upstream: 'jira', tenant: null };

test('a row moved or copied to another user gives them nothing of the first user', async () => {
  const file = join(dir, 'w.db');
  const store = await openStore(file);
  const vault = await Vault.open(store.secrets, { current: randomBytes(32) });
  const tv = new TokenVault(vault);
  const ALICE = 'alice-access-token-value-0123456789';
  await tv.put(scope, tokens('alice', ALICE));
  await tv.put(scope, tokens('bob', 'bob-access-token-value-9876543210'));
  assert.equal((await tv.get('alice', scope))?.accessToken, ALICE);
  assert.deepEqual(await tv.upstreamsOf('alice'), ['jira']);

  const raw = new Database(file);
  const aliceName = `user-oauth/jira/${userDigest('alice')}`;
  const bobName = `user-oauth/jira/${userDigest('bob')}`;
  // Alice's envelope over bob's row.
  raw.prepare(`UPDATE warden_secrets SET (key_id, wrapped_key, iv, ciphertext, tag) = (SELECT key_id, wrapped_key, iv, ciphertext, tag FROM warden_secrets WHERE name = ?) WHERE name = ?`).run(aliceName, bobName);
  await assert.rejects(tv.get('bob', scope), (e) => e instanceof SecretTampered);
  // Alice's row renamed to bob's.
  raw.prepare('DELETE FROM warden_secrets WHERE name = ?').run(bobName);
  raw.prepare('UPDATE warden_secrets SET name = ? WHERE name = ?').run(bobName, aliceName);
  await assert.rejects(tv.get('bob', scope), (e) => e instanceof SecretTampered);
  assert.equal(await tv.get('alice', scope), undefined, 'alice has no row now');
  raw.close();

  const files = readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1'));
  assert.ok(files.every((bytes) => !bytes.includes(ALICE)), 'no token in the clear in the store or its WAL');
  vault.close();
  await store.close();
});
