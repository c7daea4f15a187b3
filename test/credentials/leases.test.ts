/**
 * The must-show on the machine's PostgreSQL: a task whose upstream is a real SQL-running MCP server
 * gets a dynamic role. The role exists and works during the task; after the task ends it is gone, the old
 * connection string fails, and its open sessions were terminated. Without a task the upstream gets no
 * credential. Skips when WARDEN_TEST_DATABASE_URL is unset.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { GatewayTokens } from '../../src/identity/gateway-tokens.js';
import { BearerSession, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { runWarden, writeConfig } from '../helpers/e2e.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const DB = process.env.WARDEN_TEST_DATABASE_URL;
const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));
const SCHEMA = `warden_lease_${process.pid}`;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: DB });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const roleExists = (role: string) => admin(async (c) => ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) === 1);

describe('PostgreSQL dynamic roles per task', { skip: DB ? false : 'WARDEN_TEST_DATABASE_URL is not set: the lease tests need PostgreSQL' }, () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let tokens: GatewayTokens;
  let leaseFile: string;

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warden-leases-')));
    leaseFile = join(dir, 'lease.txt');
    await admin(async (c) => {
      await c.query(`CREATE SCHEMA ${SCHEMA}`);
      await c.query(`CREATE TABLE ${SCHEMA}.items (name text)`);
      await c.query(`INSERT INTO ${SCHEMA}.items VALUES ('alpha'), ('beta')`);
    });
    idp = await createTestIssuer(dir);
    const servers = { db: { ...tsFixtureStdio('sql-upstream.ts', [], { DATABASE_URL: '${lease:analytics}', LEASE_FILE: leaseFile, PID_FILE: join(dir, 'pid.txt') }), tenant: 'acme', environment: 'dev', trustAnnotations: true } };
    const extra = {
      auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
      policy: { files: [STARTER] },
      agents: { 'agent-a': { tenant: 'acme' } },
      leases: { analytics: { provider: 'postgres', adminUrlEnv: 'WARDEN_TEST_DATABASE_URL', grants: [`USAGE ON SCHEMA ${SCHEMA}`, `SELECT ON ALL TABLES IN SCHEMA ${SCHEMA}`] } },
    };
    gw = await startAuthGateway(servers, extra);
    tokens = new GatewayTokens(new URL(gw.publicUrl).origin, gw.publicUrl, gw.keys, gw.store.tokens, 60);
  });

  after(async () => {
    await gw?.close();
    await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`)).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the role works during the task, and after the task ends it is gone and its connection string fails', async () => {
    const tasks = gw.tasks;
    const subject = { agent: 'agent-a', user: 'alice', tenant: 'acme', chain: [], groups: [], authMethod: 'oauth-jwt', scopes: [] };
    const { task } = await tasks.start(subject, { purpose: 'report on items', servers: ['db'], tools: [], ttlSeconds: 300 });
    const token = (await tokens.mint({ agent: 'agent-a', user: 'alice', tenant: 'acme', chain: [], scopes: [], task: task.id, parentJti: null, expiresAt: Math.floor(Date.parse(task.expiresAt) / 1000) })).token;
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    const rows = JSON.parse(await s.call('query', { sql: `SELECT current_user AS who, count(*)::int AS n FROM ${SCHEMA}.items` })) as { who: string; n: number }[];
    const role = rows[0]?.who ?? '';
    assert.match(role, /^warden_[0-9a-f]+$/, 'the upstream runs as the task role');
    assert.equal(rows[0]?.n, 2);
    assert.ok(await roleExists(role));
    const leases = await gw.store.leases.active(task.id);
    assert.deepEqual(leases.map((l) => [l.handle, l.name, l.provider]), [[role, 'analytics', 'postgres']]);
    // Only the grant: writing is refused by PostgreSQL itself.
    assert.match(await s.call('query', { sql: `INSERT INTO ${SCHEMA}.items VALUES ('x')` }).catch((e: unknown) => String(e)), /permission denied/);

    const url = readFileSync(leaseFile, 'utf8');
    assert.ok(url.includes(role));
    const auditText = JSON.stringify(await gw.store.audit.tail({ limit: 100 }));
    assert.ok(!auditText.includes(new URL(url).password), 'the role password is not in the audit log');

    const pid = Number(readFileSync(join(dir, 'pid.txt'), 'utf8'));
    await tasks.end(task.id, 'test');
    assert.equal(await roleExists(role), false, 'the role is dropped');
    // The task's stdio upstream process is stopped with the task.
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        alive = false;
      }
    }
    assert.equal(alive, false, 'the task upstream process still runs');
    assert.deepEqual(await gw.store.leases.active(task.id), []);
    const old = new pg.Client({ connectionString: url });
    old.on('error', () => undefined);
    await assert.rejects(old.connect(), /role .* does not exist|password authentication failed|not permitted to log in/);
    const { message } = await s.request('tools/call', { name: 'query', arguments: { sql: 'SELECT 1' } });
    assert.equal((message.error as { data: { reason: string } }).data.reason, 'task_inactive');
    const events = (await gw.store.audit.tail({ limit: 100 })).filter((e) => e.task === task.id).map((e) => e.method);
    for (const m of ['lease/issue', 'lease/revoke', 'tools/call']) assert.ok(events.includes(m), `${m} missing: ${events.join(', ')}`);
  });

  test('warden task end (another process) drops the role at once', async () => {
    const subject = { agent: 'agent-a', user: 'alice', tenant: 'acme', chain: [], groups: [], authMethod: 'oauth-jwt', scopes: [] };
    const { task } = await gw.tasks.start(subject, { purpose: 'cli end', servers: ['db'], tools: [], ttlSeconds: 300 });
    const token = (await tokens.mint({ agent: 'agent-a', user: 'alice', tenant: 'acme', chain: [], scopes: [], task: task.id, parentJti: null, expiresAt: Math.floor(Date.parse(task.expiresAt) / 1000) })).token;
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    const role = (JSON.parse(await s.call('query', { sql: 'SELECT current_user AS who' })) as { who: string }[])[0]?.who ?? '';
    assert.ok(await roleExists(role));
    const config = writeConfig(dir, { store: join(gw.dir, 'warden.db'), auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, leases: { analytics: { provider: 'postgres', adminUrlEnv: 'WARDEN_TEST_DATABASE_URL' } }, mcpServers: {} });
    const r = await runWarden(['task', 'end', task.id, '-c', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await roleExists(role), false);
  });

  test('without a task the upstream gets no credential and no role is created', async () => {
    const before = await admin(async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'warden\\_%'")).rows[0].n as number);
    const s = new BearerSession(gw.url, await idp.sign({ aud: gw.publicUrl, sub: 'agent-a', client_id: 'agent-a' }));
    await s.initialize();
    const { message } = await s.request('tools/call', { name: 'query', arguments: { sql: 'SELECT 1' } });
    assert.ok(message.error, JSON.stringify(message));
    const after = await admin(async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'warden\\_%'")).rows[0].n as number);
    assert.equal(after, before);
    assert.ok(!existsSync(leaseFile) || readFileSync(leaseFile, 'utf8').length > 0);
  });
});
