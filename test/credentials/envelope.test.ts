/** The envelope functions alone: AES-256-GCM under a per-secret data key wrapped by a master key. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openSecret, rewrapDataKey, sealSecret, secretAad, unwrapDataKey, wrapAad, WRAPPED_KEY_BYTES, type MasterKey } from '../../src/credentials/envelope.js';
import { SecretTampered } from '../../src/credentials/errors.js';
import { masterKeyId } from '../../src/credentials/master-key.js';
import type { SecretIdentity, SecretRecord } from '../../src/store/types.js';

const master = (key = randomBytes(32)): MasterKey => ({ id: masterKeyId(key), key });
const id: SecretIdentity = { name: 'db/password', tenant: 'acme', environment: 'prod', upstream: 'pg' };
const T = '2030-01-01T00:00:00.000Z';

function record(value: string, m: MasterKey, version = 1, ident = id): SecretRecord {
  return { ...ident, version, ...sealSecret(ident, version, Buffer.from(value), m), createdAt: T, updatedAt: T };
}

const tampered = (e: unknown) => e instanceof SecretTampered && e.code === 'vault_tampered';

describe('envelope', () => {
  test('seal then open round-trips; fields have the documented sizes; the value is not in any field', () => {
    const m = master();
    const r = record('correct horse battery staple', m);
    assert.equal(openSecret(r, m).toString(), 'correct horse battery staple');
    assert.deepEqual([r.iv.length, r.tag.length, r.wrappedKey.length, r.ciphertext.length], [12, 16, WRAPPED_KEY_BYTES, 28]);
    assert.equal(WRAPPED_KEY_BYTES, 60);
    assert.equal(r.keyId, m.id);
    for (const f of [r.iv, r.tag, r.wrappedKey, r.ciphertext]) assert.equal(f.indexOf('horse'), -1);
  });

  test('every seal uses a fresh data key and IVs: the same value twice gives unrelated envelopes', () => {
    const m = master();
    const [a, b] = [record('same', m), record('same', m)];
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
    assert.notDeepEqual(a.iv, b.iv);
    assert.notDeepEqual(a.wrappedKey.subarray(0, 12), b.wrappedKey.subarray(0, 12));
    assert.notDeepEqual(unwrapDataKey(a, m), unwrapDataKey(b, m));
  });

  test('AADs are unambiguous: null and the string "null", and shifted fields, differ', () => {
    const aads = [
      secretAad(id, 1),
      secretAad({ ...id, tenant: null }, 1),
      secretAad({ ...id, tenant: 'null' }, 1),
      secretAad({ ...id, name: 'db', tenant: 'password,acme' }, 1),
      secretAad(id, 2),
    ].map(String);
    assert.equal(new Set(aads).size, aads.length);
    assert.notEqual(String(wrapAad('a', id, 1)), String(wrapAad('b', id, 1)));
  });

  test('any flipped bit anywhere in the stored fields is refused, and no value comes back', () => {
    const m = master();
    const r = record('flip-me-value', m);
    for (const field of ['ciphertext', 'tag', 'iv', 'wrappedKey'] as const) {
      for (let i = 0; i < r[field].length; i++) {
        for (const bit of [0x01, 0x80]) {
          const copy = Buffer.from(r[field]);
          copy[i]! ^= bit;
          assert.throws(() => openSecret({ ...r, [field]: copy }, m), tampered, `${field}[${i}] ^ ${bit}`);
        }
      }
    }
  });

  test('each identity field and the version are bound; the master key id is bound into the wrap', () => {
    const m = master();
    const r = record('bound', m);
    const changes: Partial<SecretRecord>[] = [
      { name: 'db/other' },
      { tenant: null },
      { tenant: 'globex' },
      { environment: 'dev' },
      { upstream: null },
      { version: 2 },
    ];
    for (const c of changes) assert.throws(() => openSecret({ ...r, ...c }, m), tampered, JSON.stringify(c));
    // The right key under a different id label: the wrap AAD differs.
    assert.throws(() => openSecret(r, { id: 'ffffffffffffffff', key: m.key }), tampered);
    assert.throws(() => openSecret(r, master()), tampered, 'another master key');
  });

  test('short or long tags, IVs and wrapped keys are refused before decrypting', () => {
    const m = master();
    const r = record('sizes', m);
    for (const c of [{ tag: r.tag.subarray(0, 12) }, { tag: Buffer.alloc(0) }, { iv: r.iv.subarray(0, 8) }, { iv: Buffer.concat([r.iv, r.iv]) }, { wrappedKey: r.wrappedKey.subarray(0, 59) }, { wrappedKey: Buffer.concat([r.wrappedKey, Buffer.alloc(1)]) }]) {
      assert.throws(() => openSecret({ ...r, ...c }, m), tampered, Object.keys(c)[0]);
    }
  });

  test('re-wrapping changes only the wrapped key; the value decrypts under the new master key only', () => {
    const [a, b] = [master(), master()];
    const r = record('rewrapped', a);
    const wrappedKey = rewrapDataKey(r, a, b);
    const moved = { ...r, keyId: b.id, wrappedKey };
    assert.equal(openSecret(moved, b).toString(), 'rewrapped');
    assert.throws(() => openSecret(moved, a), tampered);
    assert.throws(() => rewrapDataKey(r, b, a), tampered, 'the wrong old key cannot re-wrap');
  });

  test('a tampered error names the secret, never the value or a key', () => {
    const m = master();
    const r = record('never-in-errors', m);
    const err = (() => {
      try {
        openSecret({ ...r, tag: Buffer.alloc(16) }, m);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    assert.ok(err);
    assert.match(err.message, /db\/password \(tenant=acme,env=prod,upstream=pg\) version 1/);
    for (const s of ['never-in-errors', m.key.toString('hex'), m.key.toString('base64')]) assert.ok(!err.message.includes(s));
  });
});
