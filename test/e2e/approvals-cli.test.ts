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
  // Each look is a CLI run; up to about 30 s on a busy machine.
  for (let i = 0; i < 100; i++) {
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
  assert.ok(events.some((e) => e.method === 'tools/call' && e.outcome !== 'intent' && e.approvalId === pending.id && e.outcome === 'ok'));
  assert.ok(events.some((e) => e.method === 'approval/deny' && e.approvalId === second.id));
});

test('`approvals show` prints the whole call, escaped and with sizes, while pending; without the key or once decided, why not', async () => {
  const s = new RawSession(warden!.url);
  await s.initialize();
  let deep: Record<string, unknown> = { leaf: 'CLI-DEPTH-20' };
  for (let i = 19; i > 0; i--) deep = { [`l${i}`]: deep };
  const args = {
    message: 'cli-whole-1',
    note: `${'n'.repeat(300)}CLI-TAIL`,
    password: 'cli-password-value',
    deep,
    many: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i === 69 ? 'CLI-KEY-70' : i])),
    ansi: '\u001b[2J\u001b[31mCLI-ANSI\u001b[0m',
  };
  const held = s.request('tools/call', { name: 'echo', arguments: args, _meta: { trace: 'cli-trace' } });
  const pending = await nextPending();
  const shown = await runWarden(['approvals', 'show', pending.id, '-c', config]);
  assert.equal(shown.code, 0, shown.stderr);
  for (const marker of ['CLI-TAIL', 'cli-password-value', 'CLI-DEPTH-20', 'CLI-KEY-70', '"trace": "cli-trace"', '// 70 keys', '// 308 characters']) assert.ok(shown.stdout.includes(marker), `${marker} in:\n${shown.stdout}`);
  assert.ok(shown.stdout.includes('\\u001b[2J\\u001b[31mCLI-ANSI\\u001b[0m'), 'the escape sequence is shown, not run');
  assert.ok(!shown.stdout.includes('\u001b'), 'no raw control character reaches the terminal');
  assert.match(shown.stdout, /call: {4}the params the upstream receives, complete \([0-9,]+ bytes as JSON\)/);
  const json = await runWarden(['approvals', 'show', pending.id, '-c', config, '--json']);
  assert.deepEqual((JSON.parse(json.stdout) as { call: { params: unknown } }).call.params, { name: 'echo', arguments: args, _meta: { trace: 'cli-trace' } });

  // Another config on the same store, without the master key: the call is not shown, and the CLI says why.
  const keyless = writeConfig(tmp.dir, { store: 'warden.db', auth: { mode: 'none' }, mcpServers: {}, vault: {} }, 'keyless.yaml');
  const blind = await runWarden(['approvals', 'show', pending.id, '-c', keyless], { env: { ...process.env, WARDEN_MASTER_KEY: '' } });
  assert.equal(blind.code, 0, blind.stderr);
  assert.match(blind.stdout, /call: {4}not shown: the complete call is encrypted under the vault master key, which is not available here/);
  assert.ok(!blind.stdout.includes('CLI-TAIL'));

  const no = await runWarden(['approvals', 'deny', pending.id, '-c', config, '--as', 'alice']);
  assert.equal(no.code, 0, no.stderr);
  await held;
  const after = await runWarden(['approvals', 'show', pending.id, '-c', config]);
  assert.match(after.stdout, /call: {4}not shown: the complete call is deleted once a request is decided \(this one is denied\)/);
  assert.ok(!after.stdout.includes('CLI-TAIL'));
});
