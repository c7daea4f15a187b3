/**
 * Two gateway replicas on one PostgreSQL store (one schema of this run). A session on replica B works; a
 * revocation recorded elsewhere (the CLI in another process, or replica A's store) reaches B through
 * LISTEN/NOTIFY and B refuses the next call within a second: for an agent, a task and a token. When B's
 * listener connection is down and cannot come back, B fails closed after its staleness window while A keeps
 * serving; once it reconnects, B catches up on what it missed and serves again.
 *
 * Needs WARDEN_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) with a superuser: B connects
 * as a role of its own, so the test can stop only B from reconnecting (ALTER ROLE ... NOLOGIN).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { stringify } from 'yaml';
import { uuidv7 } from '../../src/core/ids.js';
import { GatewayTokens } from '../../src/identity/gateway-tokens.js';
import { revoke, type RevokeDeps } from '../../src/revocation/index.js';
import { BearerSession, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { echo, firstRefusal, firstSuccess, warden } from './helpers.js';

const baseUrl = process.env.WARDEN_TEST_DATABASE_URL;

if (baseUrl === undefined || baseUrl === '') {
  test('revocation across PostgreSQL replicas', { skip: 'WARDEN_TEST_DATABASE_URL is not set: PostgreSQL replica revocation tests skipped' }, () => {});
} else {
  describe('revocation across two PostgreSQL replicas', () => {
    const schema = `warden_test_${randomBytes(6).toString('hex')}_rv`;
    const roleB = `${schema}_b`;
    const urlFor = (app: string, user?: string): string => {
      const u = new URL(baseUrl);
      if (user) u.username = user;
      u.searchParams.set('schema', schema);
      u.searchParams.set('application_name', app);
      return u.href;
    };
    const admin = new pg.Client({ connectionString: baseUrl });
    let dir: string;
    let idp: TestIssuer;
    let A: AuthGateway;
    let B: AuthGateway;
    let tokensB: GatewayTokens;
    let cliConfig: string;
    let deps: RevokeDeps;

    const session = async (gw: AuthGateway, token: string): Promise<BearerSession> => {
      const s = new BearerSession(gw.url, token);
      await s.initialize();
      return s;
    };
    const agentOn = async (gw: AuthGateway, agent: string) => session(gw, await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: agent }));
    const replica = (store: string) =>
      startAuthGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, {
        store,
        auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
        revocation: { maxStalenessSeconds: 1, pollMs: 200 },
        log: { level: 'error' },
        // Replicas of one store share its master key (the signing keys are sealed under it).
        vault: { masterKeyFile: join(dir, 'master.key') },
      });
    const mintOnB = (agent: string, task: string | null = null) =>
      tokensB.mint({ agent, user: 'alice', tenant: null, chain: [], scopes: [], task, parentJti: null, expiresAt: Math.floor(Date.now() / 1000) + 600 });
    const until = async (cond: () => boolean, ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (!cond()) {
        assert.ok(Date.now() < end, 'timed out waiting');
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    before(async () => {
      await admin.connect();
      await admin.query(`CREATE ROLE "${roleB}" LOGIN SUPERUSER`);
      dir = mkdtempSync(join(tmpdir(), 'warden-replicas-'));
      idp = await createTestIssuer(dir);
      writeFileSync(join(dir, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
      A = await replica(urlFor(`${schema}_a`)); // migrates the schema first
      B = await replica(urlFor(`${schema}_b`, roleB));
      tokensB = new GatewayTokens(new URL(B.publicUrl).origin, B.publicUrl, B.keys, B.store.tokens, 60);
      cliConfig = join(dir, 'cli.yaml');
      writeFileSync(cliConfig, stringify({ store: urlFor(`${schema}_cli`), mcpServers: {} }));
      // Replica A's side of `warden revoke`, in-process: the same code the CLI runs.
      deps = {
        revocations: A.store.revocations,
        tasks: A.store.tasks,
        tokens: A.store.tokens,
        endTask: async (id, by) => (await A.store.tasks.finish(id, 'revoked', new Date().toISOString(), by))!,
      };
      await until(() => A.revocations.status().channel === 'listening' && B.revocations.status().channel === 'listening', 5000);
    });

    after(async () => {
      await A?.close();
      await B?.close();
      await admin.query(`ALTER ROLE "${roleB}" LOGIN`).catch(() => {});
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [roleB]).catch(() => {});
      await admin.query(`DROP ROLE IF EXISTS "${roleB}"`).catch(() => {});
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('warden revoke agent (another process): replica B refuses its next call within a second, A too; other agents are served', async (t) => {
      const onB = await agentOn(B, 'agent-x');
      const onA = await agentOn(A, 'agent-x');
      const other = await agentOn(B, 'agent-y');
      assert.equal(await echo(onB), 'ok');
      const cli = await warden(['revoke', 'agent', 'agent-x', '--reason', 'compromised', '-c', cliConfig]);
      const committed = performance.now();
      assert.equal(cli.code, 0, cli.stderr);
      const refused = await firstRefusal(onB, committed);
      assert.equal(refused.reason, 'revoked');
      assert.ok(refused.afterMs < 1000, `B refused ${refused.afterMs.toFixed(0)} ms after the CLI returned`);
      t.diagnostic(`B refused ${refused.afterMs.toFixed(1)} ms after the CLI returned`);
      assert.equal(await echo(onA), 'revoked');
      assert.equal(await echo(other), 'ok');
      assert.ok((await B.store.audit.tail({ limit: 50 })).some((e) => e.method === 'revoke/agent' && e.agent === 'agent-x'), 'one audit chain');
    });

    test('a task revoked on replica A: B refuses its token within a second; the task is ended as revoked', async (t) => {
      const now = Date.now();
      const task = { id: uuidv7(), agent: 'agent-t', user: 'alice', tenant: null, purpose: 'report', servers: ['rec'], tools: [], createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 600_000).toISOString(), state: 'active' as const, endedAt: null, endedBy: null };
      await A.store.tasks.create(task);
      const s = await session(B, (await mintOnB('agent-t', task.id)).token);
      assert.equal(await echo(s), 'ok');
      const result = await revoke(deps, { kind: 'task', value: task.id, by: 'ops', reason: null });
      const committed = performance.now();
      assert.deepEqual([result.created, result.taskEnded, result.task?.state], [true, true, 'revoked']);
      const refused = await firstRefusal(s, committed);
      // The task's ended state (read from the store per request) may refuse it before B hears the notification.
      assert.ok(['revoked', 'task_inactive'].includes(refused.reason), refused.reason);
      assert.ok(refused.afterMs < 1000, `${refused.afterMs.toFixed(0)} ms`);
      t.diagnostic(`refused (${refused.reason}) ${refused.afterMs.toFixed(1)} ms after the revocation committed`);
      // Either way B's revocation list has it within the second: it is checked before the task, so it decides.
      let reason = refused.reason;
      while (reason !== 'revoked' && performance.now() - committed < 1000) {
        await new Promise((r) => setTimeout(r, 20));
        reason = await echo(s);
      }
      assert.equal(reason, 'revoked', "B's revocation list refuses it within a second");
    });

    test('a token revoked on replica A: B refuses it within a second; another token of the agent is served', async (t) => {
      const one = await mintOnB('agent-k');
      const two = await mintOnB('agent-k');
      const s1 = await session(B, one.token);
      const s2 = await session(B, two.token);
      assert.equal(await echo(s1), 'ok');
      const result = await revoke(deps, { kind: 'token', value: one.record.jti, by: 'ops', reason: 'leaked in a log' });
      const committed = performance.now();
      // Kept past the token's expiry by the largest clock skew verification may allow (300 s).
      assert.equal(result.record.expiresAt, new Date(Date.parse(one.record.expiresAt) + 300_000).toISOString(), 'kept until the token can no longer verify');
      const refused = await firstRefusal(s1, committed);
      assert.equal(refused.reason, 'revoked');
      assert.ok(refused.afterMs < 1000, `${refused.afterMs.toFixed(0)} ms`);
      t.diagnostic(`refused ${refused.afterMs.toFixed(1)} ms after the revocation committed`);
      assert.equal(await echo(s2), 'ok');
    });

    test("B's listener dropped once: it reconnects at once and hears the next revocation", async (t) => {
      const s = await agentOn(B, 'agent-d');
      const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`${schema}_b:revocations`]);
      assert.equal(killed.rowCount, 1, 'one listener connection');
      await until(() => B.revocations.status().channel === 'down', 2000);
      await until(() => B.revocations.status().channel === 'listening' && B.revocations.status().fresh, 3000);
      await revoke(deps, { kind: 'agent', value: 'agent-d', by: 'ops' });
      const refused = await firstRefusal(s, performance.now());
      assert.equal(refused.reason, 'revoked');
      assert.ok(refused.afterMs < 1000, `${refused.afterMs.toFixed(0)} ms`);
      t.diagnostic(`refused ${refused.afterMs.toFixed(1)} ms after the revocation committed`);
    });

    test("B's listener down for longer than the window: B fails closed, A serves; B recovers after reconnecting and applies what it missed", async (t) => {
      const victim = await agentOn(B, 'agent-m');
      const onB = await agentOn(B, 'agent-n');
      const onA = await agentOn(A, 'agent-n');
      assert.equal(await echo(onB), 'ok');
      // B's role may not log in again, so its listener cannot come back; its open pool connections stay.
      // Fill B's pool first: a pool that had to grow under NOLOGIN would fail B's audit writes instead
      // (audit_unavailable), which is fail-closed too, but not the refusal this test is about.
      await Promise.all(Array.from({ length: 8 }, () => B.store.audit.tail({ limit: 1 })));
      await admin.query(`ALTER ROLE "${roleB}" NOLOGIN`);
      const killedAt = performance.now();
      const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`${schema}_b:revocations`]);
      assert.equal(killed.rowCount, 1);
      await revoke(deps, { kind: 'agent', value: 'agent-m', by: 'ops' }); // while B cannot hear it

      const closed = await firstRefusal(onB, killedAt, 3000);
      assert.equal(closed.reason, 'revocation_unavailable');
      assert.ok(closed.afterMs < 1000 + 200 + 500, `B failed closed ${closed.afterMs.toFixed(0)} ms after its listener was killed (window 1 s)`);
      t.diagnostic(`B failed closed ${closed.afterMs.toFixed(0)} ms after its listener was killed`);
      assert.equal(B.revocations.status().channel, 'down');
      assert.equal(await echo(onA), 'ok', 'A keeps serving');
      assert.equal(await echo(victim), 'revocation_unavailable');

      await admin.query(`ALTER ROLE "${roleB}" LOGIN`);
      const back = await firstSuccess(onB, 5000);
      assert.equal(back.reason, 'ok', 'B serves again once it has reconnected');
      assert.ok(back.afterMs < 3000, `recovered ${back.afterMs.toFixed(0)} ms after the role could log in again`);
      t.diagnostic(`B served again ${back.afterMs.toFixed(0)} ms after the role could log in`);
      assert.equal(B.revocations.status().channel, 'listening');
      assert.equal(await echo(victim), 'revoked', 'and applies the revocation it missed');
    });
  });
}
