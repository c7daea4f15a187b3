/**
 * Issue 7's must-show: the trace of one task that spans a delegation, an approval and a lease. Alice's
 * agent starts a task in a token exchange, delegates it to a sub-agent, whose destructive call in prod is
 * held until carol approves it, and runs on a PostgreSQL role leased to the task. `audit trace --task`
 * shows every hop: the task's token, the delegation, the lease, the held call, the approval, the call that
 * used it (approval id, lease id, chain), the end of the task and the lease's revocation. Needs PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { auditTrace } from '../../src/cli/audit-trace.js';
import { approvalServiceFor } from '../../src/cli/services.js';
import { validateConfig } from '../../src/config/index.js';
import type { ApprovalRecord } from '../../src/store/types.js';
import { BearerSession, exchangeForm, startAuthGateway, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const DB = process.env.WARDEN_TEST_DATABASE_URL;
const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));
let dir = '';
let idp: TestIssuer;
let gw: AuthGateway | undefined;
let extra: Record<string, unknown>;
const servers = { db: { ...tsFixtureStdio('sql-upstream.ts', [], { DATABASE_URL: '${lease:reports}' }), tenant: 'acme', environment: 'prod' } };

before(async () => {
  if (!DB) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'warden-trace-')));
  idp = await createTestIssuer(dir);
  extra = {
    auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
    policy: { files: [STARTER] },
    agents: { 'agent-a': { tenant: 'acme' }, 'agent-b': { tenant: 'acme', delegatesFrom: ['agent-a'] } },
    approvals: { approvers: ['carol'], holdSeconds: 20 },
    leases: { reports: { provider: 'postgres', adminUrlEnv: 'WARDEN_TEST_DATABASE_URL' } },
  };
  gw = await startAuthGateway(servers, extra);
});

after(async () => {
  await gw?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('one task, delegated, approved and leased, reads as one trace', { skip: DB ? false : 'WARDEN_TEST_DATABASE_URL is not set: leases need PostgreSQL' }, async () => {
  const g = gw!;
  const origin = new URL(g.publicUrl).origin;
  const user = await idp.sign({ aud: g.publicUrl, sub: 'alice', client_id: 'app-web', tenant: 'acme' });
  const started = await tokenRequest(origin, exchangeForm(user, await idp.sign({ aud: g.publicUrl, sub: 'agent-a', client_id: 'agent-a' }), { task_purpose: 'count the items', task_tools: 'query' }));
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const delegated = await tokenRequest(origin, exchangeForm(String(started.body.access_token), await idp.sign({ aud: g.publicUrl, sub: 'agent-b', client_id: 'agent-b' })));
  assert.equal(delegated.status, 200, JSON.stringify(delegated.body));
  const [task] = await g.store.tasks.list({ limit: 1 });
  assert.ok(task);

  const s = new BearerSession(g.url, String(delegated.body.access_token));
  await s.initialize();
  // Untrusted annotations: `query` counts as a destructive write in prod, so it needs the task grant and a human.
  const held = s.call('query', { sql: 'SELECT current_user AS who' });
  const approvals = approvalServiceFor(validateConfig({ auth: extra.auth, approvals: extra.approvals, mcpServers: {} }, 'test'), g.store.approvals)!;
  let pending: ApprovalRecord | undefined;
  for (let i = 0; i < 800 && !pending; i++) {
    [pending] = await g.store.approvals.list({ state: 'pending', limit: 1 });
    if (!pending) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(pending, 'the call was not held');
  assert.deepEqual([pending.agent, pending.chain, pending.task, pending.user], ['agent-b', ['agent-a'], task.id, 'alice']);
  await approvals.decide(pending.id, 'carol', 'approved', 'ticket 7');
  const who = (JSON.parse(await held) as { who: string }[])[0]?.who ?? '';
  assert.match(who, /^warden_/, 'the call ran on the leased role');
  await g.tasks.end(task.id, 'alice');

  let text = '';
  await auditTrace({ task: task.id }, { query: (q) => g.store.audit.trace(q), write: (t) => (text += t) });
  const events = await g.store.audit.trace({ task: task.id, limit: 100 });
  const call = events.find((e) => e.method === 'tools/call' && e.outcome === 'ok');
  assert.ok(call, text);
  assert.deepEqual(call.chain, ['agent-a'], 'the call records the delegation');
  assert.equal(call.approvalId, pending.id);
  assert.equal(call.leaseIds?.length, 1, 'the call records the lease it used');
  for (const m of ['oauth/token', 'lease/issue', 'tools/call', 'lease/revoke']) assert.ok(events.some((e) => e.method === m), `${m} missing from the trace:\n${text}`);
  assert.match(text, /agent-b/);
  assert.match(text, new RegExp(`approval ${pending.id}`));
  assert.match(text, new RegExp(`lease ${call.leaseIds?.[0]}`));
});
