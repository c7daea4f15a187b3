/**
 * The end-to-end: an agent's destructive call is held; a second process (the CLI) approves it; the
 * call completes exactly once (the upstream saw one call); the same call again needs a new approval; a
 * denied call never reaches the upstream. The real `warden serve`, a recording stdio upstream, the real CLI.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { recorded } from '../helpers/auth.js';
import { assertBuilt, runWarden, startWarden, tempDir, writeConfig, type RunningWarden } from '../helpers/e2e.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const tmp = tempDir('warden-approvals-');
const record = join(tmp.dir, 'upstream.log');
let warden: RunningWarden | undefined;
let config = '';

before(async () => {
  assertBuilt();
  config = writeConfig(tmp.dir, {
    listen: '127.0.0.1:0',
    store: 'warden.db',
    auth: { mode: 'none' },
    policy: { files: [POLICY] },
    approvals: { approvers: ['alice', 'anonymous'], holdSeconds: 30 },
    log: { level: 'error' },
    // Annotations are not trusted, so `echo` counts as destructive; unset environment counts as prod.
    mcpServers: { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: record }) },
  });
  warden = await startWarden(config);
});

after(async () => {
  await warden?.stop();
  tmp.remove();
});

const calls = (message: string) => recorded(record).filter((l) => l.includes('"tools/call"') && l.includes(message));

/** Polls the CLI until a pending request other than `seen` appears. */
async function nextPending(seen: string[] = []): Promise<{ id: string; tool: string; arguments: string }> {
  for (let i = 0; i < 60; i++) {
    const r = await runWarden(['approvals', 'list', '-c', config, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const found = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; tool: string; arguments: string })
      .find((x) => !seen.includes(x.id));
    if (found) return found;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.fail('no pending approval request appeared');
}

test('held, approved by another process, runs once; the same call needs a new approval; a denied one never runs', async () => {
  const s = new RawSession(warden!.url);
  await s.initialize();
  const held = s.request('tools/call', { name: 'echo', arguments: { message: 'deploy-42' } });
  const pending = await nextPending();
  assert.equal(pending.tool, 'echo');
  assert.match(pending.arguments, /deploy-42/, 'the approver sees the (redacted) arguments');
  assert.equal(calls('deploy-42').length, 0, 'nothing reaches the upstream while held');

  const self = await runWarden(['approvals', 'approve', pending.id, '-c', config, '--as', 'anonymous']);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /may not approve its own request/);
  const stranger = await runWarden(['approvals', 'approve', pending.id, '-c', config, '--as', 'mallory']);
  assert.match(stranger.stderr, /mallory is not an approver/);

  const ok = await runWarden(['approvals', 'approve', pending.id, '-c', config, '--as', 'alice', '--reason', 'change ticket 42']);
  assert.equal(ok.code, 0, ok.stderr);
  const { message } = await held;
  assert.equal((message.result as { content: { text: string }[] }).content[0]?.text, 'deploy-42', JSON.stringify(message));
  assert.equal(calls('deploy-42').length, 1, 'the upstream saw exactly one call');
  const twice = await runWarden(['approvals', 'approve', pending.id, '-c', config, '--as', 'alice']);
  assert.match(twice.stderr, /already (approved|consumed)/);

  // The identical call again: the approval was consumed, so it waits on a new request; deny that one.
  const again = s.request('tools/call', { name: 'echo', arguments: { message: 'deploy-42' } });
  const second = await nextPending([pending.id]);
  const no = await runWarden(['approvals', 'deny', second.id, '-c', config, '--as', 'alice', '--reason', 'not twice']);
  assert.equal(no.code, 0, no.stderr);
  const { message: refused } = await again;
  const err = refused.error as { code: number; message: string; data: { reason: string; approvalId: string } };
  assert.equal(err.data.reason, 'approval_denied');
  assert.equal(err.data.approvalId, second.id);
  assert.match(err.message, /not twice/);
  assert.equal(calls('deploy-42').length, 1, 'the denied call never reached the upstream');

  const audit = await runWarden(['audit', 'tail', '-c', config, '--json', '-n', '50']);
  const events = audit.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { method: string; approvalId?: string; outcome: string });
  assert.ok(events.some((e) => e.method === 'approval/request' && e.approvalId === pending.id));
  assert.ok(events.some((e) => e.method === 'approval/approve' && e.approvalId === pending.id));
  assert.ok(events.some((e) => e.method === 'tools/call' && e.approvalId === pending.id && e.outcome === 'ok'));
  assert.ok(events.some((e) => e.method === 'approval/deny' && e.approvalId === second.id));
});
