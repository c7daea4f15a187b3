/**
 * The sealed copy of a held call: it opens only for the request it was sealed for (id and digest), only with
 * a master key that sealed it (a previous key still opens during a rotation), never after any byte changed;
 * and readShownCall shows it only while the request is pending and unexpired, saying why otherwise.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CallSealer, readShownCall, SealedCallUnreadable } from '../../src/approvals/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { makeApproval } from '../store/approvals-suite.js';

const params = { name: 'delete', arguments: { path: '/data/x', password: 'pw' }, _meta: { trace: 't' } };
const ID = '01a2439c-4efd-76dd-9a76-58e2118a7992';
const DIGEST = 'a'.repeat(64);

describe('sealed calls', () => {
  const key = randomBytes(32);
  const sealer = CallSealer.fromKeys({ current: key, previous: [] });
  let dir: string;
  let store: Store;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-sealed-'));
    store = await openStore(join(dir, 'w.db'));
  });
  after(async () => {
    sealer.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('it opens for its own request only, and not after any change', () => {
    const sealed = sealer.seal(ID, DIGEST, params);
    assert.deepEqual(sealer.open(ID, DIGEST, sealed), params);
    // The sealed text is base64url, so short plaintext can appear in it by chance: look for the call's own
    // strings in every decoded part instead.
    const decoded = sealed.split('.').map((part) => Buffer.from(part, 'base64url').toString('latin1')).join('\n');
    for (const plain of ['password', '/data/x', '"delete"']) assert.ok(!decoded.includes(plain), `encrypted: ${plain}`);
    assert.throws(() => sealer.open('01a2439c-4efd-76dd-9a76-58e2118a7993', DIGEST, sealed), SealedCallUnreadable, 'another request');
    assert.throws(() => sealer.open(ID, 'b'.repeat(64), sealed), SealedCallUnreadable, 'another digest');
    const parts = sealed.split('.');
    for (let i = 2; i < parts.length; i++) {
      const bytes = Buffer.from(parts[i]!, 'base64url');
      bytes[0]! ^= 1;
      const altered = [...parts.slice(0, i), bytes.toString('base64url'), ...parts.slice(i + 1)].join('.');
      assert.throws(() => sealer.open(ID, DIGEST, altered), /failed authentication|malformed/, `part ${i} altered`);
    }
    assert.throws(() => sealer.open(ID, DIGEST, 'v2.x'), /malformed/);
  });

  test('another master key opens nothing; a previous key still opens what it sealed', () => {
    const other = CallSealer.fromKeys({ current: randomBytes(32), previous: [] });
    const sealed = sealer.seal(ID, DIGEST, params);
    assert.throws(() => other.open(ID, DIGEST, sealed), /sealed under master key [0-9a-f]{16}, which is not one of the keys given/);
    const rotated = CallSealer.fromKeys({ current: randomBytes(32), previous: [key] });
    assert.deepEqual(rotated.open(ID, DIGEST, sealed), params);
    other.close();
    rotated.close();
  });

  test('readShownCall: shown while pending and unexpired; otherwise why, and nothing of the call', async () => {
    const now = Date.parse('2100-01-01T00:30:00.000Z');
    const r = makeApproval();
    await store.approvals.create(r, sealer.seal(r.id, r.digest, params));
    assert.deepEqual(await readShownCall(store.approvals, sealer, r, now), { shown: true, params, bytes: Buffer.byteLength(JSON.stringify(params)) });
    const expired = await readShownCall(store.approvals, sealer, r, Date.parse(r.expiresAt));
    assert.deepEqual(expired, { shown: false, reason: 'the request has expired; its complete call is deleted' });
    const noKey = await readShownCall(store.approvals, undefined, r, now);
    assert.equal(noKey.shown, false);
    assert.match(noKey.shown ? '' : noKey.reason, /encrypted under the vault master key, which is not available here: set WARDEN_MASTER_KEY or vault\.masterKeyFile/);
    // A sealed call moved onto another request (an edited row) does not open.
    const moved = makeApproval();
    await store.approvals.create(moved, sealer.seal(r.id, r.digest, params));
    const m = await readShownCall(store.approvals, sealer, moved, now);
    assert.match(m.shown ? '' : m.reason, /failed authentication \(altered, or moved from another request\)/);
    const decided = await store.approvals.decide(r.id, 'denied', 'alice', null, new Date(now).toISOString());
    assert.match(((await readShownCall(store.approvals, sealer, decided!, now)) as { reason: string }).reason, /deleted once a request is decided \(this one is denied\)/);
  });
});
