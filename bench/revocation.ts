// Revocation propagation across replicas on PostgreSQL, in-process: two stores on one schema (two
// replicas), each with the RevocationList a gateway keeps. Replica A records a revocation; the sample is the
// time from A's insert committing (its add() resolving) to replica B's list refusing the revoked agent,
// timed by B's onApplied hook (B's check refuses from that moment on; each sample verifies it does). Also
// reported: the time from A calling add(), which includes the insert's own round trips.
// Runs when BENCH_DATABASE_URL or WARDEN_TEST_DATABASE_URL is set, in a random schema dropped after.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { uuidv7 } from '../src/core/ids.js';
import { ANONYMOUS, type Principal } from '../src/identity/principal.js';
import { WardenError } from '../src/protocol/errors.js';
import { RevocationList } from '../src/revocation/index.js';
import { openStore, type RevocationRecord, type Store } from '../src/store/index.js';
import { stats } from './load.js';

export interface RevocationPropagation {
  skipped?: string;
  backend?: 'postgres';
  samples?: number;
  /** Insert committed on A -> B refuses. */
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  /** add() called on A -> B refuses (includes the insert transaction). */
  fromCallP50Ms?: number;
  fromCallP99Ms?: number;
}

const SAMPLES = 100;
const WARMUP = 5;

export async function measureRevocationPropagation(samples = SAMPLES): Promise<RevocationPropagation> {
  const url = process.env.BENCH_DATABASE_URL || process.env.WARDEN_TEST_DATABASE_URL;
  if (!url) return { skipped: 'set BENCH_DATABASE_URL (or WARDEN_TEST_DATABASE_URL) to measure propagation on PostgreSQL' };
  const schema = `warden_bench_${randomBytes(5).toString('hex')}`;
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  const stores: Store[] = [];
  const lists: RevocationList[] = [];
  try {
    const a = await openStore(u.href);
    stores.push(a);
    const b = await openStore(u.href);
    stores.push(b);
    const waiting = new Map<string, (at: number) => void>();
    const onApplied = (records: readonly RevocationRecord[]): void => {
      const at = performance.now();
      for (const r of records) waiting.get(r.value)?.(at);
    };
    const listA = new RevocationList({ store: a.revocations, maxStalenessMs: 5000, pollMs: 500 });
    const listB = new RevocationList({ store: b.revocations, maxStalenessMs: 5000, pollMs: 500, onApplied });
    lists.push(listA, listB);
    await Promise.all([listA.start(), listB.start()]);
    if (listB.status().channel !== 'listening') throw new Error('replica B is not listening');

    const fromCommit: number[] = [];
    const fromCall: number[] = [];
    for (let i = 0; i < WARMUP + samples; i++) {
      const agent = `bench-agent-${i}-${randomBytes(4).toString('hex')}`;
      const applied = new Promise<number>((resolve) => waiting.set(agent, resolve));
      const called = performance.now();
      await a.revocations.add({ id: uuidv7(), kind: 'agent', value: agent, revokedAt: new Date().toISOString(), by: 'bench', reason: null, expiresAt: null });
      const committed = performance.now();
      const at = await applied;
      waiting.delete(agent);
      assertRefused(listB, { ...ANONYMOUS, agent });
      if (i < WARMUP) continue;
      fromCommit.push(at - committed);
      fromCall.push(at - called);
    }
    const s = stats(fromCommit);
    const c = stats(fromCall);
    return { backend: 'postgres', samples, p50Ms: s.p50Ms, p99Ms: s.p99Ms, maxMs: s.maxMs, fromCallP50Ms: c.p50Ms, fromCallP99Ms: c.p99Ms };
  } finally {
    for (const l of lists) await l.stop();
    for (const s of stores) await s.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

function assertRefused(list: RevocationList, p: Principal): void {
  try {
    list.check(p);
  } catch (err) {
    if (err instanceof WardenError && err.code === 'revoked') return;
    throw err;
  }
  throw new Error(`replica B did not refuse ${p.agent} after applying its revocation`);
}

// Run alone: node --import tsx bench/revocation.ts
if (import.meta.url === `file://${process.argv[1]}`) {
  measureRevocationPropagation().then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
