/** Master keys: formats, ids, and where they come from (environment, key files), with errors that leak nothing. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterKeys, loadNewMasterKey, masterKeyId, parseMasterKey, readMasterKeyFile, VaultError } from '../../src/credentials/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const isVault = (code: string) => (e: unknown) => e instanceof VaultError && e.code === code;
const file = (name: string, content: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('master keys', () => {
  test('hex, base64 and base64url decode to the same 32 bytes; whitespace and a newline are ignored', () => {
    const key = randomBytes(32);
    for (const text of [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url'), `  ${key.toString('base64')}\n`]) {
      assert.deepEqual(parseMasterKey(text, 'X'), key, text);
    }
  });

  test('malformed keys are refused, naming the source and the format, never echoing the input', () => {
    const key = randomBytes(32);
    const bad = [
      '',
      '   ',
      key.toString('hex').slice(2), // 31 bytes
      key.toString('hex') + 'ab', // 33 bytes
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      'not a key at all, definitely not',
      'zz' + key.toString('hex').slice(2),
    ];
    for (const text of bad) {
      const err = (() => {
        try {
          parseMasterKey(text, 'WARDEN_MASTER_KEY');
        } catch (e) {
          return e as Error;
        }
      })();
      assert.ok(isVault('vault_master_key_invalid')(err), text);
      assert.match(err!.message, /^WARDEN_MASTER_KEY is (malformed|empty)/);
      if (text.trim().length > 4) assert.ok(!err!.message.includes(text.trim().slice(0, 12)), err!.message);
    }
    assert.throws(() => parseMasterKey(Buffer.alloc(32).toString('hex'), 'K'), isVault('vault_master_key_invalid'), 'all zeros');
    assert.throws(() => parseMasterKey(Buffer.alloc(32, 7).toString('base64'), 'K'), isVault('vault_master_key_invalid'), 'one byte repeated');
  });

  test('ids: 16 hex digits, stable, distinct per key, and not a prefix of the key in any encoding', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    assert.match(masterKeyId(a), /^[0-9a-f]{16}$/);
    assert.equal(masterKeyId(a), masterKeyId(Buffer.from(a)));
    assert.notEqual(masterKeyId(a), masterKeyId(b));
    assert.ok(!a.toString('hex').includes(masterKeyId(a)));
  });

  test('key files: text or 32 raw bytes; unreadable files name the error code', () => {
    const key = randomBytes(32);
    key[0] = 0x00; // certainly not printable text
    assert.deepEqual(readMasterKeyFile(file('raw.key', key)), key);
    assert.deepEqual(readMasterKeyFile(file('hex.key', key.toString('hex') + '\n')), key);
    assert.throws(() => readMasterKeyFile(join(dir, 'missing.key')), (e) => isVault('vault_master_key_invalid')(e) && /ENOENT/.test((e as Error).message));
    assert.throws(() => readMasterKeyFile(file('short.key', randomBytes(16))), isVault('vault_master_key_invalid'));
  });

  test('the current key: from WARDEN_MASTER_KEY or vault.masterKeyFile; both must agree; neither is a clear error', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const fa = file('a.key', a.toString('base64'));
    assert.deepEqual(loadMasterKeys({ env: { WARDEN_MASTER_KEY: a.toString('hex') } }).current, a);
    assert.deepEqual(loadMasterKeys({ env: {}, masterKeyFile: 'a.key', baseDir: dir }).current, a, 'relative to the config directory');
    assert.deepEqual(loadMasterKeys({ env: { WARDEN_MASTER_KEY: a.toString('base64') }, masterKeyFile: fa }).current, a);
    const conflict = (() => {
      try {
        loadMasterKeys({ env: { WARDEN_MASTER_KEY: b.toString('hex') }, masterKeyFile: fa });
      } catch (e) {
        return e as Error;
      }
    })();
    assert.ok(isVault('vault_master_key_invalid')(conflict));
    assert.match(conflict!.message, /WARDEN_MASTER_KEY and vault.masterKeyFile hold different keys/);
    for (const env of [{}, { WARDEN_MASTER_KEY: '' }, { WARDEN_MASTER_KEY: '  ' }]) {
      assert.throws(() => loadMasterKeys({ env }), (e) => isVault('vault_master_key_missing')(e) && /WARDEN_MASTER_KEY.*vault\.masterKeyFile/.test((e as Error).message));
    }
    assert.throws(() => loadMasterKeys({ env: { WARDEN_MASTER_KEY: 'abc' } }), (e) => isVault('vault_master_key_invalid')(e) && /^WARDEN_MASTER_KEY is malformed/.test((e as Error).message));
    assert.throws(() => loadMasterKeys({ env: {}, masterKeyFile: 'nope.key', baseDir: dir }), (e) => isVault('vault_master_key_invalid')(e) && (e as Error).message.includes(join(dir, 'nope.key')));
  });

  test('previous keys from vault.previousKeyFiles and WARDEN_PREVIOUS_MASTER_KEY; the new key for rotation', () => {
    const [a, b, c, d] = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
    const keys = loadMasterKeys({
      env: { WARDEN_MASTER_KEY: a.toString('hex'), WARDEN_PREVIOUS_MASTER_KEY: `${c.toString('hex')},${d.toString('base64')}` },
      previousKeyFiles: [file('b.key', b.toString('hex'))],
    });
    assert.deepEqual(keys.previous, [b, c, d]);
    assert.deepEqual(loadNewMasterKey({ WARDEN_NEW_MASTER_KEY: b.toString('hex') }), b);
    assert.deepEqual(loadNewMasterKey({}, file('new.key', c.toString('base64'))), c);
    assert.throws(() => loadNewMasterKey({}), (e) => isVault('vault_master_key_missing')(e) && /--new-key-file/.test((e as Error).message));
    assert.throws(() => loadNewMasterKey({ WARDEN_NEW_MASTER_KEY: a.toString('hex') }, file('new2.key', b.toString('hex'))), isVault('vault_master_key_invalid'));
  });
});
