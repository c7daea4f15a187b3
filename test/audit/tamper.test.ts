/**
 * Tamper tests on both stores: 50 events written through the real recorder, then rows modified, deleted,
 * inserted or reordered with direct SQL on the same database; `verifyAudit` must name the first broken link.
 * PostgreSQL needs WARDEN_TEST_DATABASE_URL (each scenario gets a random schema, dropped after).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign, exportJWK, generateKeyPair } from 'jose';
import { eventHash } from '../../src/audit/chain.js';
import { canonicalJson } from '../../src/audit/digest.js';
import { verifyAudit, type BreakReason, type VerifyResult } from '../../src/audit/verify.js';
import type { Store } from '../../src/store/index.js';
import { draft, insertRow, postgresBackend, recorderWithCheckpoints, rehashFrom, renumber, seed, sqliteBackend, swapContent, type Backend, type Db } from './tamper-helpers.js';

const backends: Backend[] = [sqliteBackend(), postgresBackend(process.env.WARDEN_TEST_DATABASE_URL)];

function assertBroken(r: VerifyResult, seq: number, reasons: BreakReason | BreakReason[]): void {
  const allowed = Array.isArray(reasons) ? reasons : [reasons];
  assert.equal(r.ok, false, 'verify must report the tampering');
  assert.equal(r.firstBroken?.seq, seq, `first broken link: ${JSON.stringify(r.firstBroken)}`);
  assert.ok(allowed.includes(r.firstBroken!.reason), `reason ${r.firstBroken!.reason}, expected ${allowed.join(' or ')}: ${r.firstBroken!.detail}`);
}

for (const backend of backends) {
  const stores: Store[] = [];
  after(async () => {
    for (const s of stores) await s.close();
    await backend.cleanup();
  });

  describe(`audit tamper evidence: ${backend.name}`, { skip: backend.skip }, () => {
    /** A fresh database with 50 chained, checkpointed events. */
    const seeded = async (): Promise<{ db: Db; store: Store }> => {
      const db = await backend.fresh();
      const store = await seed(db);
      stores.push(store);
      return { db, store };
    };

    test('untouched: intact, every event and checkpoint verified', async () => {
      const { store } = await seeded();
      const r = await verifyAudit(store);
      assert.equal(r.ok, true, JSON.stringify(r.firstBroken));
      assert.equal(r.events, 50);
      assert.deepEqual(r.head?.seq, 50);
      assert.equal(r.checkpoints, 3, 'at 20, 40 and 50');
      assert.equal(r.lastCheckpointSeq, 50, 'stop() checkpoints the head');
      assert.equal(r.keys.length, 1);
      assert.match(r.keys[0]!.thumbprint!, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(r.keys[0]!.checkpoints, r.checkpoints);
      // Small pages walk the same chain.
      assert.deepEqual(await verifyAudit(store, { pageSize: 7 }), r);
    });

    test('one field of seq 17 modified: broken at 17, modified', async () => {
      const { db, store } = await seeded();
      await db.sql("UPDATE warden_audit_events SET target = 'innocent_tool' WHERE seq = 17");
      assertBroken(await verifyAudit(store), 17, 'modified');
    });

    test('seq 17 modified and every later hash recomputed: the signed checkpoint after it disagrees', async () => {
      const { db, store } = await seeded();
      await db.sql("UPDATE warden_audit_events SET target = 'innocent_tool' WHERE seq = 17");
      await rehashFrom(db, store, 17);
      const r = await verifyAudit(store);
      assertBroken(r, 20, 'bad-checkpoint');
      assert.match(r.firstBroken!.detail, /seq 1\.\.20/);
      assert.equal(r.events, 19, 'the events before the checkpoint still link');
    });

    test('seq 23 deleted: broken at 23, deleted', async () => {
      const { db, store } = await seeded();
      await db.sql('DELETE FROM warden_audit_events WHERE seq = 23');
      assertBroken(await verifyAudit(store), 23, 'deleted');
    });

    test('seq 23 deleted and the rest renumbered: broken at 23, deleted', async () => {
      const { db, store } = await seeded();
      await db.sql('DELETE FROM warden_audit_events WHERE seq = 23');
      await renumber(db, 24, -1);
      assertBroken(await verifyAudit(store), 23, 'deleted');
    });

    test('events pruned up to a checkpoint verify from it as an anchor; pruned anywhere else: deleted', async () => {
      const { db, store } = await seeded();
      await db.sql('DELETE FROM warden_audit_events WHERE seq <= 20');
      const r = await verifyAudit(store);
      assert.equal(r.ok, true, JSON.stringify(r.firstBroken));
      assert.deepEqual([r.anchorSeq, r.events, r.checkpoints], [20, 30, 3]);
      await db.sql('DELETE FROM warden_audit_events WHERE seq <= 25');
      assertBroken(await verifyAudit(store), 1, 'deleted');
    });

    test('the last events deleted: the checkpoint beyond the chain shows it', async () => {
      const { db, store } = await seeded();
      await db.sql('DELETE FROM warden_audit_events WHERE seq >= 45');
      assertBroken(await verifyAudit(store), 45, 'deleted');
    });

    test('a forged event appended at the end with a wrong prev_hash: inserted', async () => {
      const { db, store } = await seeded();
      const [last] = await db.sql('SELECT * FROM warden_audit_events WHERE seq = 50');
      const forged = (await store.audit.readChain(49, 1))[0]!;
      const e = { ...forged, id: forged.id.slice(0, -4) + 'ffff', target: 'exfiltrate' };
      const prev = 'e'.repeat(64);
      await insertRow(db, { ...last, id: e.id, target: e.target, seq: 51, prev_hash: prev, hash: eventHash(prev, e) });
      assertBroken(await verifyAudit(store), 51, 'inserted');
    });

    test('a forged event inserted in the middle, the rest renumbered: inserted at its seq', async () => {
      const { db, store } = await seeded();
      const [at25] = await db.sql('SELECT * FROM warden_audit_events WHERE seq = 25');
      const orig = (await store.audit.readChain(24, 1))[0]!;
      const prev = (await store.audit.readChain(23, 1))[0]!.hash!;
      await renumber(db, 25, 1);
      // It links correctly to seq 24 and carries a correct hash; only the event after it gives it away.
      const e = { ...orig, id: orig.id.slice(0, -4) + 'eeee', target: 'planted' };
      await insertRow(db, { ...at25, id: e.id, target: e.target, seq: 25, prev_hash: prev, hash: eventHash(prev, e) });
      assertBroken(await verifyAudit(store), 25, 'inserted');
    });

    test('a row inserted without a chain position is found', async () => {
      const { db, store } = await seeded();
      const [row] = await db.sql('SELECT * FROM warden_audit_events WHERE seq = 30');
      const forged = { ...row, id: String(row!.id).slice(0, -4) + 'ffff', seq: null, prev_hash: null, hash: null };
      if (backend.name === 'postgres') {
        // PostgreSQL refuses it outright (NOT NULL since migration 3).
        await assert.rejects(insertRow(db, forged), /null value/);
        return;
      }
      await insertRow(db, forged);
      const r = await verifyAudit(store);
      assertBroken(r, 31, 'inserted');
      assert.match(r.firstBroken!.detail, /ffff/);
    });

    test('two adjacent rows swapped (seq exchanged): broken at the first, reordered', async () => {
      const { db, store } = await seeded();
      await db.sql('UPDATE warden_audit_events SET seq = -30 WHERE seq = 30');
      await db.sql('UPDATE warden_audit_events SET seq = 30 WHERE seq = 31');
      await db.sql('UPDATE warden_audit_events SET seq = 31 WHERE seq = -30');
      assertBroken(await verifyAudit(store), 30, 'reordered');
    });

    test("two rows' contents swapped (30 and 36): broken at 30, reordered", async () => {
      const { db, store } = await seeded();
      await swapContent(db, 30, 36);
      const r = await verifyAudit(store);
      assertBroken(r, 30, 'reordered');
      assert.match(r.firstBroken!.detail, /seq 36/);
    });

    test('a checkpoint whose hash was changed: bad-checkpoint', async () => {
      const { db, store } = await seeded();
      await db.sql("UPDATE warden_audit_checkpoints SET hash = $1 WHERE seq = 40", ['a'.repeat(64)]);
      assertBroken(await verifyAudit(store), 40, 'bad-checkpoint');
    });

    test('a checkpoint whose signature was changed: bad-checkpoint', async () => {
      const { db, store } = await seeded();
      const [cp] = await db.sql('SELECT signature FROM warden_audit_checkpoints WHERE seq = 20');
      const sig = String(cp!.signature);
      const flipped = sig.slice(0, -2) + (sig.at(-2) === 'A' ? 'B' : 'A') + sig.at(-1);
      await db.sql('UPDATE warden_audit_checkpoints SET signature = $1 WHERE seq = 20', [flipped]);
      assertBroken(await verifyAudit(store), 20, 'bad-checkpoint');
    });

    test("a checkpoint re-signed with the attacker's own key: bad-checkpoint", async () => {
      const { db, store } = await seeded();
      const [cp] = await db.sql('SELECT * FROM warden_audit_checkpoints WHERE seq = 40');
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      const content = canonicalJson({ seq: 40, hash: cp!.hash, createdAt: cp!.created_at, instance: cp!.instance });
      const signature = await new CompactSign(new TextEncoder().encode(content))
        .setProtectedHeader({ alg: 'ES256', kid: 'attacker', typ: 'warden-audit-checkpoint' })
        .sign(privateKey);
      const jwk = JSON.stringify(await exportJWK(publicKey));
      await db.sql("UPDATE warden_audit_checkpoints SET kid = 'attacker', public_jwk = $1, signature = $2 WHERE seq = 40", [jwk, signature]);
      const r = await verifyAudit(store);
      assertBroken(r, 40, 'bad-checkpoint');
      assert.match(r.firstBroken!.detail, /not a recorded checkpoint key/);
    });
  });

  describe(`audit chain under concurrent writers: ${backend.name}`, { skip: backend.skip }, () => {
    test('two recorders on two store handles, 500 events each at once: one contiguous chain', async () => {
      const db = await backend.fresh();
      const [a, b] = [await db.open(), await db.open()];
      try {
        const writers = [a, b].map((s, w) => recorderWithCheckpoints(s, `replica-${w}`, 100));
        // Waves of 50 concurrent calls per writer, both writers at once.
        const write = async (recorder: (typeof writers)[number]['recorder'], w: number) => {
          for (let i = 0; i < 500; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => recorder.record(draft(w * 1000 + i + k))));
        };
        await Promise.all(writers.map(({ recorder }, w) => write(recorder, w)));
        await Promise.all(writers.map(({ cp }) => cp.stop()));
        const r = await verifyAudit(a);
        assert.equal(r.ok, true, JSON.stringify(r.firstBroken));
        assert.equal(r.events, 1000);
        assert.equal(r.head?.seq, 1000);
        assert.ok(r.checkpoints >= 2, `checkpoints: ${r.checkpoints}`);
        const seqs = (await db.sql('SELECT seq FROM warden_audit_events ORDER BY seq')).map((x) => Number(x.seq));
        assert.deepEqual(seqs, Array.from({ length: 1000 }, (_, i) => i + 1));
        const instances = new Set((await a.audit.readChain(0, 1000)).map((e) => e.instance));
        assert.deepEqual(instances, new Set(['replica-0', 'replica-1']));
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
