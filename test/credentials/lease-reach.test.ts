/**
 * Issue 11 item 8 for leases, on the machine's PostgreSQL: a lease (a database role) is created only for an
 * upstream in the task's grant, on the first allowed request that needs it. A task granted another server
 * lists, calls and initializes without the database upstream ever starting or a role being created; a call
 * to it is refused and audited. A task granted the database gets no role from initialize, and one role on
 * its first call. Skips when WARDEN_TEST_DATABASE_URL is unset.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { GatewayTokens } from '../../src/identity/gateway-tokens.js';
import { auditAfter, BearerSession, lastAuditId, quiet, recorded, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const DB = process.env.WARDEN_TEST_DATABASE_URL;
const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));

async function wardenRoles(): Promise<number> {
  const c = new pg.Client({ connectionString: DB });
  await c.connect();
  try {
    return (await c.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'warden\\_%'")).rows[0].n as number;
  } finally {
    await c.end();
  }
}

describe('leases only for upstreams in the grant, on the first allowed call', { skip: DB ? false : 'WARDEN_TEST_DATABASE_URL is not set: the lease tests need PostgreSQL' }, () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let tokens: GatewayTokens;
  let leaseFile: string;
  let otherLog: string;
  const subject = { agent: 'agent-a', user: 'alice', tenant: 'acme', chain: [], groups: [], authMethod: 'oauth-jwt', scopes: [] };

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warden-lease-reach-')));
    leaseFile = join(dir, 'lease.txt');
    otherLog = join(dir, 'other.log');
    idp = await createTestIssuer(dir);
    const labels = { tenant: 'acme', environment: 'dev', trustAnnotations: true } as const;
    gw = await startAuthGateway(
      {
        db: { ...tsFixtureStdio('sql-upstream.ts', [], { DATABASE_URL: '${lease:analytics}', LEASE_FILE: leaseFile, PID_FILE: join(dir, 'pid.txt') }), ...labels },
        other: { ...tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: otherLog }), ...labels },
      },
      {
        auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
        policy: { files: [STARTER] },
        agents: { 'agent-a': { tenant: 'acme' } },
        leases: { analytics: { provider: 'postgres', adminUrlEnv: 'WARDEN_TEST_DATABASE_URL', grants: [] } },
      },
    );
    tokens = new GatewayTokens(new URL(gw.publicUrl).origin, gw.publicUrl, gw.keys, gw.store.tokens, 60);
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const taskSession = async (servers: string[]) => {
    const { task } = await gw.tasks.start(subject, { purpose: 'reach test', servers, tools: [], ttlSeconds: 300 });
    const token = (await tokens.mint({ agent: 'agent-a', user: 'alice', tenant: 'acme', chain: [], scopes: [], task: task.id, parentJti: null, expiresAt: Math.floor(Date.parse(task.expiresAt) / 1000) })).token;
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    return { task, s };
  };

  test('a task granted another server never starts the database upstream nor gets a role; a call to it is refused and audited', async () => {
    const roles = await wardenRoles();
    const { task, s } = await taskSession(['other']);
    assert.deepEqual((await s.toolNames()).sort(), ['other__echo', 'other__env']);
    assert.equal(await s.call('other__echo', { message: 'hi' }), 'hi');
    const mark = await lastAuditId(gw);
    const { message } = await s.request('tools/call', { name: 'db__query', arguments: { sql: 'SELECT 1' } });
    assert.match((message.error as { message: string }).message, /outside the grant of task/);
    const [e] = (await auditAfter(gw, mark)).filter((x) => x.method === 'tools/call' && x.outcome !== 'intent');
    assert.deepEqual([e?.outcome, e?.errorCode, e?.upstream, e?.decision?.effect], ['denied', 'policy_denied', 'db', 'deny']);
    await quiet(otherLog);
    assert.equal(existsSync(leaseFile), false, 'the database upstream was never started');
    assert.deepEqual(await gw.store.leases.active(task.id), []);
    assert.equal(await wardenRoles(), roles, 'no role was created');
    await gw.tasks.end(task.id, 'test');
  });

  test('a task granted the database gets no role from initialize, and exactly one on its first call', async () => {
    const roles = await wardenRoles();
    const { task, s } = await taskSession(['db']);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await gw.store.leases.active(task.id), [], 'initialize created no lease');
    assert.equal(await wardenRoles(), roles);
    const rows = JSON.parse(await s.call('db__query', { sql: 'SELECT current_user AS who' })) as { who: string }[];
    assert.match(rows[0]?.who ?? '', /^warden_[0-9a-f]+$/);
    assert.equal((await gw.store.leases.active(task.id)).length, 1);
    assert.equal(recorded(otherLog).filter((l) => l.includes(task.id)).length, 0);
    await gw.tasks.end(task.id, 'test');
    assert.equal(await wardenRoles(), roles, 'the role is gone with the task');
  });
});
