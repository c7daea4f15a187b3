import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, parseStoreSpec, StoreError } from '../../src/store/index.js';

const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;

describe('store specs', () => {
  test('specs pick the backend', () => {
    assert.deepEqual(parseStoreSpec('.warden/warden.db'), { kind: 'sqlite', path: '.warden/warden.db' });
    assert.deepEqual(parseStoreSpec('sqlite:/var/lib/w.db'), { kind: 'sqlite', path: '/var/lib/w.db' });
    assert.deepEqual(parseStoreSpec('sqlite:///var/lib/w.db'), { kind: 'sqlite', path: '/var/lib/w.db' });
    assert.deepEqual(parseStoreSpec('sqlite::memory:'), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseStoreSpec('postgresql://h/db'), { kind: 'postgres', url: 'postgresql://h/db' });
    assert.deepEqual(parseStoreSpec('postgres://h/db'), { kind: 'postgres', url: 'postgres://h/db' });
  });

  test('unsupported URLs and empty specs are invalid', async () => {
    for (const spec of ['mysql://u:p@h/db', 'https://example.com/x', '', '  ', 'sqlite:']) {
      await assert.rejects(openStore(spec), isCode('store_invalid_spec'), spec);
    }
  });

  test('a malformed PostgreSQL URL is invalid and its text is not echoed', async () => {
    const err = await openStore('postgres://u:hunter2@bad host:xx/db').catch((e: unknown) => e);
    assert.ok(isCode('store_invalid_spec')(err));
    assert.ok(!String((err as Error).stack).includes('hunter2'));
    await assert.rejects(openStore('postgres://h/db?schema=bad;name'), isCode('store_invalid_spec'));
  });

  test('an unreachable PostgreSQL rejects without leaking the password', async () => {
    const password = 's3cr3t-p@ss';
    const url = `postgres://warden:${encodeURIComponent(password)}@127.0.0.1:1/db?sslpassword=other-secret`;
    const err = await openStore(url).catch((e: unknown) => e);
    assert.ok(isCode('store_unavailable')(err), String(err));
    const text = `${(err as Error).message}\n${(err as Error).stack}\n${JSON.stringify(err)}`;
    for (const secret of [password, encodeURIComponent(password), 'other-secret']) {
      assert.ok(!text.includes(secret), `error text leaks ${secret}: ${text}`);
    }
    assert.match((err as Error).message, /postgres:\/\/warden:\*\*\*@127\.0\.0\.1:1\/db/);
  });
});
