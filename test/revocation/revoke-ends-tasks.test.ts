/** Revoking an agent or a user also ends their active tasks (so their leases and task processes go too); others' tasks are untouched. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { revoke } from '../../src/revocation/index.js';
import { openStore, type TaskRecord } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-revoke-tasks-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const task = (agent: string, user: string | null): TaskRecord => ({
  id: `0190aaaa-0000-7000-8000-${String(++n).padStart(12, '0')}`,
  agent,
  user,
  tenant: 'acme',
  purpose: 'p',
  servers: ['files'],
  tools: [],
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 600_000).toISOString(),
  state: 'active',
  endedAt: null,
  endedBy: null,
});

test('an agent or user revoked: their active tasks end as revoked, others stay active', async () => {
  const store = await openStore(join(dir, 'w.db'));
  try {
    const a1 = task('agent-a', 'alice');
    const a2 = task('agent-a', 'bob');
    const b1 = task('agent-b', 'bob');
    const c1 = task('agent-c', 'carol');
    for (const t of [a1, a2, b1, c1]) await store.tasks.create(t);
    const deps = { revocations: store.revocations, tasks: store.tasks, tokens: store.tokens, endTask: async (id: string, by: string) => (await store.tasks.finish(id, 'revoked', new Date().toISOString(), by))! };
    const byAgent = await revoke(deps, { kind: 'agent', value: 'agent-a', by: 'test' });
    assert.deepEqual(byAgent.endedTasks.sort(), [a1.id, a2.id].sort());
    const byUser = await revoke(deps, { kind: 'user', value: 'bob', by: 'test' });
    assert.deepEqual(byUser.endedTasks, [b1.id]);
    assert.equal((await store.tasks.get(c1.id))?.state, 'active');
    for (const t of [a1, a2, b1]) assert.equal((await store.tasks.get(t.id))?.state, 'revoked');
  } finally {
    await store.close();
  }
});
