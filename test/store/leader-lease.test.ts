/**
 * One replica runs the audit export pump: the one holding the `audit-export` lease. Two stores on one
 * PostgreSQL schema stand for two replicas. The lease cannot be taken while held; it passes on once it lapses
 * (the holder died) or is released (the holder stopped); the pump of a replica that does not lead delivers
 * nothing, and starts delivering once it leads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/audit/event.js';
import { SinkPump } from '../../src/audit/sinks/pump.js';
import { createLogger } from '../../src/telemetry/log.js';
import { openStore, type Store } from '../../src/store/index.js';
import { testSchema } from '../helpers/pg-schema.js';

const baseUrl = process.env.WARDEN_TEST_DATABASE_URL;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leader lease on PostgreSQL', { skip: baseUrl ? false : 'WARDEN_TEST_DATABASE_URL is not set' }, () => {
  const schema = testSchema(baseUrl ?? '', 'll');
  let a: Store;
  let b: Store;
  before(async () => {
    a = await openStore(schema.url());
    b = await openStore(schema.url());
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await schema.drop();
  });

  test('held by one; taken over when it lapses; handed over when released', async () => {
    assert.equal(await a.audit.holdLease('export', 'A', 800), true);
    assert.equal(await b.audit.holdLease('export', 'B', 800), false, 'B cannot take a lease A holds');
    assert.equal(await a.audit.holdLease('export', 'A', 800), true, 'A renews');
    assert.equal(await b.audit.holdLease('other', 'B', 800), true, 'leases are per name');
    await sleep(1200);
    assert.equal(await b.audit.holdLease('export', 'B', 60_000), true, 'A stopped renewing: B takes over');
    assert.equal(await a.audit.holdLease('export', 'A', 800), false, 'and A no longer leads');
    await a.audit.releaseLease('export', 'A'); // not A's: changes nothing
    assert.equal(await a.audit.holdLease('export', 'A', 800), false);
    await b.audit.releaseLease('export', 'B');
    assert.equal(await a.audit.holdLease('export', 'A', 800), true, 'released: A takes it at once');
  });
});

describe('a pump that does not lead delivers nothing', () => {
  test('follows, then delivers once it leads', async () => {
    const events: AuditEvent[] = Array.from({ length: 3 }, (_, i) => ({ seq: i + 1 }) as unknown as AuditEvent);
    const delivered: number[] = [];
    let leads = false;
    let cursor = 0;
    const pump = new SinkPump(
      { readAfter: async (seq, limit) => events.filter((e) => e.seq! > seq).slice(0, limit) },
      { get: async () => cursor, set: async (_s, seq) => void (cursor = seq) },
      [{ name: 'mem', deliver: async (batch: AuditEvent[]) => void delivered.push(...batch.map((e) => e.seq!)), close: async () => {} }],
      createLogger('silent'),
      { pollMs: 20, followerRetryMs: 20, leader: async () => leads },
    );
    pump.start();
    await sleep(200);
    assert.deepEqual(delivered, [], 'a follower delivers nothing');
    leads = true;
    await sleep(300);
    await pump.stop();
    assert.deepEqual(delivered, [1, 2, 3]);
  });
});
