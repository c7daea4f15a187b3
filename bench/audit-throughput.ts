// Audit throughput, measured in-process through the gateway's own AuditRecorder (group commit), the hash
// chain and checkpointing, on SQLite and, when a database is given, PostgreSQL:
// - events per second with `concurrency` record() calls in flight (each awaits its own commit, as a strict
//   call does before its response leaves);
// - the latency one record() adds to a call when nothing else is in flight (sequential, p50/p99).
// PostgreSQL runs when BENCH_DATABASE_URL or WARDEN_TEST_DATABASE_URL is set, in a random schema dropped after.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Checkpointer, withCheckpoints } from '../src/audit/checkpoints.js';
import { AuditRecorder, type AuditDraft } from '../src/audit/recorder.js';
import { verifyAudit } from '../src/audit/verify.js';
import { SigningKeys } from '../src/identity/signing-keys.js';
import { MasterKeyRing } from '../src/credentials/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { silentLogger } from '../src/telemetry/log.js';
import { stats, type LatencyStats } from './load.js';

export interface AuditBackendResult {
  backend: 'sqlite' | 'postgres';
  /** Why it did not run (no database configured), if it did not. */
  skipped?: string;
  events?: number;
  concurrency?: number;
  eventsPerSecond?: number;
  /** What one record() adds to a call with nothing else in flight, in milliseconds. */
  sequentialMs?: LatencyStats;
  /** The chain verified intact after the run (and how long verify took). */
  verified?: boolean;
  verifyMs?: number;
}

export interface AuditThroughput {
  targetEventsPerSecond: number;
  sqliteMeetsTarget: boolean;
  sqlite: AuditBackendResult;
  postgres: AuditBackendResult;
}

export interface AuditThroughputOptions {
  events?: number;
  concurrency?: number;
  sequential?: number;
}

const TARGET = 10_000;

function draft(i: number): AuditDraft {
  return {
    sessionId: `s-${i % 64}`,
    agent: `agent-${i % 8}`,
    user: `user-${i % 16}`,
    tenant: 'acme',
    chain: [],
    authMethod: 'oauth-jwt',
    protocolVersion: '2025-11-25',
    method: 'tools/call',
    upstream: 'files',
    target: 'read_file',
    argsDigest: 'sha256:' + 'ab'.repeat(32),
    outcome: 'ok',
    errorCode: null,
    startedAt: performance.timeOrigin + performance.now(),
  };
}

async function runOn(store: Store, backend: AuditBackendResult['backend'], o: Required<AuditThroughputOptions>): Promise<AuditBackendResult> {
  const keys = new SigningKeys(store.keys, MasterKeyRing.from({ current: randomBytes(32), previous: [] }), 'ES256', 24 * 3600_000, 3600_000);
  const cp = new Checkpointer({ audit: store.audit, keys, log: silentLogger(), instance: 'bench' });
  const recorder = new AuditRecorder(withCheckpoints(store.audit, cp), silentLogger(), { instance: 'bench' });
  let next = 0;
  const closedLoop = async (total: number): Promise<number> => {
    const end = next + total;
    const start = performance.now();
    const worker = async (): Promise<void> => {
      while (next < end) await recorder.record(draft(next++));
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    return performance.now() - start;
  };
  await closedLoop(Math.min(2000, o.events)); // warm-up: JIT, statement preparation, the first key
  const ms = await closedLoop(o.events);
  const samples: number[] = [];
  for (let i = 0; i < o.sequential; i++) {
    const t = performance.now();
    await recorder.record(draft(next++));
    samples.push(performance.now() - t);
  }
  await cp.stop();
  const t = performance.now();
  const verified = (await verifyAudit(store)).ok;
  return {
    backend,
    events: o.events,
    concurrency: o.concurrency,
    eventsPerSecond: Math.round((o.events / ms) * 1000),
    sequentialMs: stats(samples),
    verified,
    verifyMs: Math.round(performance.now() - t),
  };
}

export async function measureAuditThroughput(opts: AuditThroughputOptions = {}): Promise<AuditThroughput> {
  const o = { events: opts.events ?? 20_000, concurrency: opts.concurrency ?? 64, sequential: opts.sequential ?? 2000 };

  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-audit-'));
  let sqlite: AuditBackendResult;
  try {
    const store = await openStore(join(dir, 'audit.db'));
    try {
      sqlite = await runOn(store, 'sqlite', o);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const url = process.env.BENCH_DATABASE_URL || process.env.WARDEN_TEST_DATABASE_URL;
  let postgres: AuditBackendResult = { backend: 'postgres', skipped: 'set BENCH_DATABASE_URL (or WARDEN_TEST_DATABASE_URL) to measure PostgreSQL' };
  if (url) {
    const schema = `warden_bench_${randomBytes(5).toString('hex')}`;
    const u = new URL(url);
    u.searchParams.set('schema', schema);
    try {
      const store = await openStore(u.href);
      try {
        postgres = await runOn(store, 'postgres', o);
      } finally {
        await store.close();
      }
    } finally {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  }
  return { targetEventsPerSecond: TARGET, sqliteMeetsTarget: (sqlite.eventsPerSecond ?? 0) >= TARGET, sqlite, postgres };
}

// Run alone: node --import tsx bench/audit-throughput.ts
if (import.meta.url === `file://${process.argv[1]}`) {
  measureAuditThroughput().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
