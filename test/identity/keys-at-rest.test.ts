/**
 * Signing keys at rest: the private keys that sign gateway tokens and audit checkpoints are sealed under the
 * vault master key. Through a real gateway with real tokens (an exchange at /oauth/token), checked on the
 * raw bytes of the SQLite file and on every row of every warden table in PostgreSQL: no `"d":` member and no
 * private key value. A store from before keys were sealed is sealed on first start; a gateway without a
 * master key, with the wrong one, or over a sealed key moved onto another key's row, does not start; a
 * master key rotation (`warden secret rotate-master`) re-wraps them and the tokens they signed stay good.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import pg from 'pg';
import { stringify } from 'yaml';
import { runAuditVerify } from '../../src/cli/audit-verify.js';
import { MasterKeyRing, readMasterKeyFile } from '../../src/credentials/index.js';
import { openPrivateKey } from '../../src/identity/sealed-key.js';
import { openStore } from '../../src/store/index.js';
import { BearerSession, exchangeForm, startAuthGateway, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { runWarden } from '../helpers/e2e.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { echo } from '../revocation/helpers.js';
import { testSchema } from '../helpers/pg-schema.js';

const PUBLIC_URL = 'http://warden.test/mcp';
/** A private JWK member as JSON text, or inside a JSON string (a row dumped as JSON). */
const D_MEMBER = /\\?"d\\?"\s*:/;

function newKeyFile(file: string): string {
  writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return file;
}

function ringOf(...files: string[]): MasterKeyRing {
  const [current, ...previous] = files.map((f) => readMasterKeyFile(f));
  return MasterKeyRing.from({ current: current!, previous });
}

/** The private `d` of every stored signing key, opened with the ring (the test's view; the store never shows it). */
async function privateParts(storeSpec: string, ring: MasterKeyRing): Promise<string[]> {
  const store = await openStore(storeSpec);
  try {
    const keys = await store.keys.list(new Date().toISOString());
    assert.ok(keys.length > 0, 'the gateway made a signing key');
    return keys.map((k) => {
      assert.match(k.privateKey, new RegExp(`^wk1\\.${ring.current.id}\\.`), `key ${k.kid} is sealed under the current master key`);
      return String(openPrivateKey(k, k.privateKey, ring).d);
    });
  } finally {
    await store.close();
  }
}

/** Asserts that `dump` (raw file bytes or dumped rows) holds no private JWK member and none of `ds`, in any encoding. */
function assertNoPrivateKey(dump: Buffer, ds: string[], what: string): void {
  assert.doesNotMatch(dump.toString('latin1'), D_MEMBER, `${what} holds a "d": member`);
  for (const d of ds) {
    assert.equal(dump.includes(Buffer.from(d)), false, `${what} holds a private key (base64url)`);
    assert.equal(dump.includes(Buffer.from(d, 'base64url')), false, `${what} holds a private key (raw bytes)`);
  }
}

async function verifyIntact(config: string, signed = true): Promise<void> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  assert.equal(await runAuditVerify({ config }, out, out), 0, text);
  assert.match(text, /^audit chain INTACT/);
  if (signed) assert.match(text, /checkpoint keys \(compare/, 'checkpoints were signed');
}

describe('signing keys at rest', () => {
  let dir: string;
  let idp: TestIssuer;
  const gateways: AuthGateway[] = [];

  const start = async (store: string, vault: Record<string, unknown>): Promise<AuthGateway> => {
    const gw = await startAuthGateway(
      { rec: tsFixtureStdio('recording-upstream.ts') },
      { store, publicUrl: PUBLIC_URL, tokenService: { issuer: 'http://warden.test' }, auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, vault, log: { level: 'warn' } },
    );
    gateways.push(gw);
    return gw;
  };
  const gatewayToken = async (gw: AuthGateway): Promise<string> => {
    const subject = await idp.sign({ aud: PUBLIC_URL, sub: 'alice', client_id: 'app-web' });
    const r = await tokenRequest(new URL(gw.url).origin, exchangeForm(subject, await idp.sign({ aud: PUBLIC_URL, sub: 'agent-a', client_id: 'agent-a' })));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return String(r.body.access_token);
  };
  const session = async (gw: AuthGateway, token: string): Promise<BearerSession> => {
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    return s;
  };
  /** A token from the identity provider directly: another session, not a gateway token. */
  const otherSession = async (gw: AuthGateway) => session(gw, await idp.sign({ aud: PUBLIC_URL, sub: 'bob', client_id: 'agent-b' }));
  const stop = async (gw: AuthGateway) => {
    await gw.close();
    gateways.splice(gateways.indexOf(gw), 1);
  };
  const rawSqlite = (file: string): Buffer => Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter(existsSync).map((f) => readFileSync(f)));
  const verifyConfig = (store: string): string => {
    const file = join(dir, `verify-${randomBytes(4).toString('hex')}.yaml`);
    writeFileSync(file, stringify({ store, mcpServers: {} }));
    return file;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-keys-at-rest-'));
    idp = await createTestIssuer(dir);
  });
  after(async () => {
    for (const g of [...gateways]) await g.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('SQLite: tokens and checkpoints are signed, and the raw file holds no private key', async () => {
    const store = join(dir, 'fresh.db');
    const key = newKeyFile(join(dir, 'fresh.key'));
    const gw = await start(store, { masterKeyFile: key });
    const token = await gatewayToken(gw);
    assert.equal(await echo(await session(gw, token)), 'ok');
    assert.equal(await echo(await otherSession(gw)), 'ok');
    await verifyIntact(verifyConfig(store), false);
    await stop(gw); // a last checkpoint is signed at shutdown
    await verifyIntact(verifyConfig(store));
    const ring = ringOf(key);
    const ds = await privateParts(store, ring);
    ring.close();
    assertNoPrivateKey(rawSqlite(store), ds, 'the SQLite file');
  });

  test('a gateway without a master key does not start, and says how to make one', { skip: process.env.WARDEN_MASTER_KEY ? 'WARDEN_MASTER_KEY is set' : false }, async () => {
    await assert.rejects(start(join(dir, 'none.db'), {}), (err: Error) => {
      assert.match(err.message, /vault: the gateway signs its tokens and audit checkpoints with keys the store keeps sealed under the vault master key/);
      assert.match(err.message, /no vault master key is configured: set WARDEN_MASTER_KEY/);
      assert.match(err.message, /warden secret master-key --out \.warden\/master\.key/);
      return true;
    });
  });

  test('a store with clear keys (written before keys were sealed) is sealed on first start; the old key keeps signing', async () => {
    const store = join(dir, 'legacy.db');
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const clear = await exportJWK(privateKey);
    const s = await openStore(store);
    const now = Date.now();
    await s.keys.insert({
      kid: 'legacy-key',
      alg: 'ES256',
      publicJwk: await exportJWK(publicKey),
      privateKey: JSON.stringify(clear),
      createdAt: new Date(now - 3600_000).toISOString(),
      retireAt: new Date(now + 24 * 3600_000).toISOString(),
      expireAt: new Date(now + 48 * 3600_000).toISOString(),
    });
    await s.close();
    assert.ok(rawSqlite(store).includes(Buffer.from(String(clear.d))), 'the legacy store holds the key in clear');

    const key = newKeyFile(join(dir, 'legacy.key'));
    const gw = await start(store, { masterKeyFile: key });
    assert.match(gw.logs(), /signing keys stored in clear .* are now sealed under the master key/);
    const token = await gatewayToken(gw);
    assert.equal(decodeProtectedHeader(token).kid, 'legacy-key', 'the sealed legacy key signs');
    assert.equal(await echo(await session(gw, token)), 'ok');
    assert.equal(await echo(await otherSession(gw)), 'ok');
    await stop(gw);
    await verifyIntact(verifyConfig(store));
    const ring = ringOf(key);
    assert.deepEqual(await privateParts(store, ring), [String(clear.d)]);
    ring.close();
    // secure_delete: the clear row is overwritten, not left in a free page.
    assertNoPrivateKey(rawSqlite(store), [String(clear.d)], 'the sealed legacy SQLite file');
  });

  test('the wrong master key, or a sealed key moved onto another key, stops the start', async () => {
    const store = join(dir, 'moved.db');
    const key = newKeyFile(join(dir, 'moved.key'));
    const gw = await start(store, { masterKeyFile: key });
    await gatewayToken(gw);
    await stop(gw);
    const ring = ringOf(key);
    const id = ring.current.id;
    ring.close();
    await assert.rejects(start(store, { masterKeyFile: newKeyFile(join(dir, 'wrong.key')) }), new RegExp(`wrapped by master key ${id}, which is not one of the keys given`));
    // Another key's row given this key's sealed private key: it must not open under that kid.
    const s = await openStore(store);
    const [k] = await s.keys.list(new Date().toISOString());
    const other = await generateKeyPair('ES256', { extractable: true });
    await s.keys.insert({ ...k!, kid: 'intruder', publicJwk: await exportJWK(other.publicKey) });
    await s.close();
    await assert.rejects(start(store, { masterKeyFile: key }), /signing key intruder: its sealed private key failed authentication/);
  });

  test('warden secret rotate-master re-wraps the signing keys; tokens signed before stay good; the old key alone opens nothing', async () => {
    const store = join(dir, 'rotate.db');
    const oldKey = newKeyFile(join(dir, 'old.key'));
    const newKey = newKeyFile(join(dir, 'new.key'));
    const gw = await start(store, { masterKeyFile: oldKey });
    const token = await gatewayToken(gw);
    await stop(gw);
    const config = join(dir, 'rotate.yaml');
    writeFileSync(config, stringify({ store, vault: { masterKeyFile: oldKey }, mcpServers: {} }));
    const r = await runWarden(['secret', 'rotate-master', '-c', config, '--new-key-file', newKey]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /0 data keys and 1 signing keys re-wrapped/);
    const ring = ringOf(newKey);
    const ds = await privateParts(store, ring);
    ring.close();
    await assert.rejects(start(store, { masterKeyFile: oldKey }), /which is not one of the keys given/);
    const after = await start(store, { masterKeyFile: newKey });
    assert.equal(await echo(await session(after, token)), 'ok', 'a token signed before the rotation is accepted');
    assert.equal(await echo(await session(after, await gatewayToken(after))), 'ok');
    await stop(after);
    await verifyIntact(verifyConfig(store));
    assertNoPrivateKey(rawSqlite(store), ds, 'the rotated SQLite file');
  });

  test('during a rotation a gateway given the new key as current and the old as previous starts and re-wraps', async () => {
    const store = join(dir, 'overlap.db');
    const oldKey = newKeyFile(join(dir, 'overlap-old.key'));
    const newKey = newKeyFile(join(dir, 'overlap-new.key'));
    const gw = await start(store, { masterKeyFile: oldKey });
    const token = await gatewayToken(gw);
    await stop(gw);
    const both = await start(store, { masterKeyFile: newKey, previousKeyFiles: [oldKey] });
    assert.equal(await echo(await session(both, token)), 'ok');
    await stop(both);
    const ring = ringOf(newKey);
    await privateParts(store, ring); // every key now sealed under the new key
    ring.close();
  });

  const baseUrl = process.env.WARDEN_TEST_DATABASE_URL;
  test('PostgreSQL: two replicas sign with sealed keys; no row of any warden table holds a private key', { skip: baseUrl ? false : 'WARDEN_TEST_DATABASE_URL is not set' }, async () => {
    const schema = testSchema(baseUrl!, 'keys');
    const url = new URL(schema.url());
    const key = newKeyFile(join(dir, 'pg.key'));
    const admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
    try {
      const a = await start(url.href, { masterKeyFile: key });
      const b = await start(url.href, { masterKeyFile: key });
      const token = await gatewayToken(a);
      assert.equal(await echo(await session(b, token)), 'ok', 'a token minted on one replica is accepted by the other');
      assert.equal(await echo(await session(b, await gatewayToken(b))), 'ok');
      assert.equal(await echo(await otherSession(a)), 'ok');
      await stop(a);
      await stop(b);
      await verifyIntact(verifyConfig(url.href));
      const ring = ringOf(key);
      const ds = await privateParts(url.href, ring);
      ring.close();
      const tables = await admin.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema.name]);
      assert.ok(tables.rows.some((t) => t.table_name === 'warden_signing_keys'));
      const rows: unknown[] = [];
      for (const { table_name } of tables.rows) rows.push(...(await admin.query(`SELECT * FROM "${schema.name}"."${table_name}"`)).rows);
      assert.ok(rows.length > 10, `dumped ${rows.length} rows`);
      assertNoPrivateKey(Buffer.from(JSON.stringify(rows)), ds, 'the PostgreSQL tables');
    } finally {
      await admin.end();
      await schema.drop();
    }
  });
});
