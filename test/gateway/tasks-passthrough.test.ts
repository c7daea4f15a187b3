/**
 * Issue 15 item 4: tasks pass through (server-everything's task-only `simulate-research-query`, 2025-11-25
 * tasks) and stay with the session whose call created them: its owner polls it and gets its result;
 * another principal (or another session) asking for the same task id gets "not found", and its
 * `tasks/list` does not show it. Real JWTs, real server-everything over stdio.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditAfter, BearerSession, lastAuditId, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { everythingStdio } from '../helpers/servers.js';

type Item = Record<string, unknown>;

describe('tasks through the gateway', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tasks-'));
  let idp: TestIssuer;
  let gw: AuthGateway;
  const session = async (user: string) => {
    const s = new BearerSession(gw.url, await idp.sign({ aud: gw.publicUrl, sub: user, client_id: 'app' }));
    await s.initialize();
    return s;
  };

  before(async () => {
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway(
      { ev: everythingStdio() },
      { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, policy: { files: [ALLOW_ALL_POLICY] }, naming: { prefix: 'never' }, limits: { callTimeoutMs: 30_000 } },
    );
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a task is its creator's: polled to its result by it, not found for anyone else", async () => {
    const alice = await session('alice');
    const bob = await session('bob');
    const alice2 = await session('alice');
    const init = (await alice.request('tools/list')).message.result as { tools: Item[] };
    assert.ok(init.tools.some((t) => t.name === 'simulate-research-query'));

    const since = await lastAuditId(gw);
    const created = await alice.request('tools/call', { name: 'simulate-research-query', arguments: { topic: 'gateways' }, task: { ttl: 60_000 } });
    const task = (created.message.result as { task?: Item } | undefined)?.task;
    assert.ok(task && typeof task.taskId === 'string', created.res.text);
    const taskId = task.taskId as string;

    for (const other of [bob, alice2]) {
      const got = await other.request('tasks/get', { taskId });
      assert.equal((got.message.error as { code: number } | undefined)?.code, -32602, got.res.text);
      assert.match((got.message.error as { message: string }).message, /Task not found/);
      const result = await other.request('tasks/result', { taskId });
      assert.equal((result.message.error as { code: number } | undefined)?.code, -32602);
      const cancel = await other.request('tasks/cancel', { taskId });
      assert.equal((cancel.message.error as { code: number } | undefined)?.code, -32602);
      const listed = await other.request('tasks/list');
      assert.deepEqual((listed.message.result as { tasks: unknown[] }).tasks, [], listed.res.text);
    }

    const listed = await alice.request('tasks/list');
    assert.ok((listed.message.result as { tasks: Item[] }).tasks.some((t) => t.taskId === taskId), listed.res.text);
    let status = '';
    for (let i = 0; i < 60 && status !== 'completed'; i++) {
      const got = await alice.request('tasks/get', { taskId });
      status = String((got.message.result as Item | undefined)?.status);
      if (status !== 'completed') await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(status, 'completed');
    const result = await alice.request('tasks/result', { taskId });
    assert.match(JSON.stringify(result.message.result), /gateways/);

    const events = await auditAfter(gw, since);
    const refused = events.filter((e) => e.method === 'tasks/get' && e.errorCode === 'invalid_params');
    assert.equal(refused.length, 2, 'the refused lookups are audited');
    assert.ok(events.some((e) => e.method === 'tasks/result' && e.outcome === 'ok' && e.target === 'simulate-research-query' && e.upstream === 'ev'));
  });
});
