/**
 * Strict audit's intents as `audit verify` and `audit trace` show them: an intent that a later record closes
 * is folded into it; one that nothing closes (the replica died after forwarding) is listed as unfinished,
 * never dropped, and does not make the chain broken. Tampering with an intent still breaks the chain.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { AuditEvent } from '../../src/audit/event.js';
import { renderTrace } from '../../src/audit/trace.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { formatVerify } from '../../src/cli/audit-verify.js';
import { parseTraceQuery } from '../../src/cli/audit-trace.js';
import { uuidv7 } from '../../src/core/ids.js';
import { openStore } from '../../src/store/index.js';

let t = Date.parse('2026-01-01T00:00:00Z');
function ev(o: Partial<AuditEvent>): AuditEvent {
  t += 1000;
  return { id: uuidv7(t), time: new Date(t).toISOString(), instance: 'gw-1:1', sessionId: 's-1', agent: 'coder', user: 'alice', tenant: null, chain: [], authMethod: 'none', protocolVersion: '2025-11-25', method: 'tools/call', upstream: 'files', target: 'write_file', argsDigest: 'sha256:' + '1'.repeat(64), outcome: 'ok', errorCode: null, latencyMs: 1, ...o };
}

describe('intents in verify and trace', () => {
  const closedIntent = ev({ outcome: 'intent' });
  const closing = ev({ outcome: 'ok', intentId: closedIntent.id, upstreamStatus: 'ok' });
  const lonely = ev({ outcome: 'intent', target: 'delete_file', instance: 'gw-2:7' });
  const other = ev({ method: 'tools/list', upstream: null, target: null, argsDigest: null });

  test('verify: intact, with the intent nothing closed listed as unfinished', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.audit.append([closedIntent, closing, lonely, other]);
      const r = await verifyAudit(store);
      assert.equal(r.ok, true);
      assert.equal(r.events, 4);
      assert.deepEqual(r.unfinished.map((u) => [u.id, u.seq, u.target, u.instance]), [[lonely.id, 3, 'delete_file', 'gw-2:7']]);
      const text = formatVerify(r, store.location);
      assert.match(text, /^audit chain INTACT/);
      assert.match(text, /1 call UNFINISHED/);
      assert.match(text, new RegExp(`seq 3 .*tools/call files/delete_file\\s+on gw-2:7\\s+intent ${lonely.id}`));
      // The intent id read back is what was written (the new column round-trips).
      const back = await store.audit.readChain(0, 10);
      assert.equal(back[1]!.intentId, closedIntent.id);
      assert.equal(back[0]!.intentId, undefined);
    } finally {
      await store.close();
    }
  });

  test('verify: an intent is chained like any record; rewriting it (to hide that a call ran) breaks the chain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-intents-'));
    const file = join(dir, 'warden.db');
    try {
      const store = await openStore(file);
      await store.audit.append([closedIntent, closing, lonely]);
      await store.close();
      const db = new Database(file);
      db.prepare("UPDATE warden_audit_events SET outcome = 'denied' WHERE seq = 3").run();
      db.close();
      const again = await openStore(file);
      const r = await verifyAudit(again);
      await again.close();
      assert.equal(r.ok, false);
      assert.equal(r.firstBroken?.seq, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('trace: a closed intent folds into its record; an open one shows UNFINISHED', () => {
    const text = renderTrace([closedIntent, closing, lonely, other]);
    assert.match(text, /^trace: 3 events in 1 session, .*, 1 unfinished/);
    assert.equal((text.match(/UNFINISHED \(forwarded, no outcome recorded\)/g) ?? []).length, 1, text);
    assert.match(text, /files\/delete_file\s+UNFINISHED/);
    assert.doesNotMatch(text, /files\/write_file\s+UNFINISHED/);
  });

  test('trace and tail filter on --outcome intent', () => {
    assert.equal(parseTraceQuery({ user: 'alice', outcome: 'intent' }, Date.now()).outcome, 'intent');
  });
});
