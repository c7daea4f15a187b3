/**
 * `warden task` on the real binary against a running `warden serve` on the same store: `task start` asks
 * the policy for a grant and prints a gateway token; a client uses it for exactly the granted tool; `task
 * end` makes the next call with it fail; list/show/audit tell the story. Real JWT issuer keys, a real
 * filesystem server.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { BearerSession } from '../helpers/auth.js';
import { assertBuilt, runWarden, startWarden, tempDir, writeConfig, type RunningWarden } from '../helpers/e2e.js';
import { createTestIssuer } from '../helpers/idp.js';
import { filesystemStdio } from '../helpers/servers.js';

const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));
const tmp = tempDir('warden-task-cli-');
let warden: RunningWarden | undefined;
let config = '';
let data = '';

before(async () => {
  assertBuilt();
  data = join(tmp.dir, 'data');
  mkdirSync(data);
  const idp = await createTestIssuer(tmp.dir);
  const settings = {
    listen: '127.0.0.1:0',
    store: 'warden.db',
    // The docs' Identity example: every request needs the scope mcp, so task tokens must carry it.
    auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }], requiredScopes: ['mcp'] },
    agents: { 'agent-a': { tenant: 'acme' } },
    policy: { files: [STARTER] },
    log: { level: 'error' },
    mcpServers: { files: { ...filesystemStdio(data), tenant: 'acme', environment: 'dev', trustAnnotations: true } },
  };
  config = writeConfig(tmp.dir, settings);
  warden = await startWarden(config);
  // Listening on port 0: the CLI mints tokens for the URL the gateway got, so name it as the public URL.
  writeConfig(tmp.dir, { ...settings, publicUrl: warden.url });
});

after(async () => {
  await warden?.stop();
  tmp.remove();
});

test('task start grants by policy and prints a token the gateway accepts; task end refuses its next call', async () => {
  const started = await runWarden(['task', 'start', '-c', config, '--agent', 'agent-a', '--user', 'alice', '--purpose', 'write the weekly report', '--tool', 'write_file', '--server', 'nosuch', '--ttl', '10m']);
  assert.equal(started.code, 0, started.stderr);
  const token = started.stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'stdout is exactly the token');
  assert.match(started.stderr, /task started/);
  assert.match(started.stderr, /grant:\s+write_file/);
  assert.match(started.stderr, /not granted: nosuch: no such server/);
  assert.match(started.stderr, /scopes:\s+mcp$/m, "by default the token carries the config's required scopes");
  const id = /^(\S+)\s+active/m.exec(started.stderr)?.[1];
  assert.ok(id, started.stderr);

  const s = new BearerSession(warden!.url, token);
  await s.initialize();
  assert.deepEqual(await s.toolNames(), ['write_file'], 'one upstream: names are not prefixed');
  await s.call('write_file', { path: join(data, 'report.txt'), content: 'done' });
  assert.equal(readFileSync(join(data, 'report.txt'), 'utf8'), 'done');

  const shown = await runWarden(['task', 'show', id, '-c', config, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal((JSON.parse(shown.stdout) as { state: string }).state, 'active');

  const ended = await runWarden(['task', 'end', id, '-c', config, '--reason', 'report filed', '--json']);
  assert.equal(ended.code, 0, ended.stderr);
  const endedJson = JSON.parse(ended.stdout) as { task: { id: string; state: string }; reason: string };
  assert.deepEqual([endedJson.task.id, endedJson.task.state, endedJson.reason], [id, 'ended', 'report filed']);
  const { message } = await s.request('tools/call', { name: 'write_file', arguments: { path: join(data, 'late.txt'), content: 'x' } });
  assert.equal((message.error as { data: { reason: string } }).data.reason, 'task_inactive');
  assert.ok(!existsSync(join(data, 'late.txt')));

  const list = await runWarden(['task', 'list', '-c', config, '--state', 'ended', '--json']);
  assert.deepEqual(list.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id), [id]);
  const audit = await runWarden(['audit', 'trace', '--task', id, '-c', config, '--json']);
  const methods = audit.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { method: string; outcome: string }).method);
  for (const m of ['task/start', 'tools/call', 'task/end']) assert.ok(methods.includes(m), `${m} missing from the task's trace: ${methods.join(', ')}`);
  const end = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { method: string; target: string; decision: { reason: string } }).find((e) => e.method === 'task/end')!;
  assert.equal(end.target, id, 'task events name the task as their target');
  assert.match(end.decision.reason, /ended by cli: report filed$/, 'the reason is recorded');
  assert.ok(!audit.stdout.includes(token), 'the token is not in the audit log');
});

test('task start refuses what policy does not grant, a TTL above the maximum, and a config without auth', async () => {
  const other = await runWarden(['task', 'start', '-c', config, '--agent', 'agent-x', '--purpose', 'p', '--server', 'files']);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /nothing asked for was granted/);
  assert.equal(other.stdout, '', 'no token is printed');
  const long = await runWarden(['task', 'start', '-c', config, '--agent', 'agent-a', '--purpose', 'p', '--server', 'files', '--ttl', '48h']);
  assert.equal(long.code, 1);
  assert.match(long.stderr, /above the maximum/);
  const dev = writeConfig(tmp.dir, { store: 'dev.db', auth: { mode: 'none' }, mcpServers: {} }, 'dev.yaml');
  const none = await runWarden(['task', 'start', '-c', dev, '--agent', 'a', '--purpose', 'p', '--server', 'x']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /a task token is a gateway token/);
});

test('task start --scope: the token carries exactly those scopes; without the required one it is refused (403)', async () => {
  const start = (scope: string) => runWarden(['task', 'start', '-c', config, '--agent', 'agent-a', '--purpose', 'read', '--server', 'files', '--scope', scope]);
  const wide = await start('mcp files:read');
  assert.equal(wide.code, 0, wide.stderr);
  assert.match(wide.stderr, /scopes:\s+mcp files:read$/m);
  const ok = new BearerSession(warden!.url, wide.stdout.trim());
  await ok.initialize();
  assert.ok((await ok.toolNames()).length > 0);

  const narrow = await start('files:read');
  assert.equal(narrow.code, 0, narrow.stderr);
  const r = await fetch(warden!.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${narrow.stdout.trim()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  assert.equal(r.status, 403);
  assert.match(r.headers.get('www-authenticate') ?? '', /scope="mcp", error="insufficient_scope"/);
  const bad = await start('mcp "quoted"');
  assert.notEqual(bad.code, 0);
});

test('revoke an agent: its next call is refused; revoke list shows it; revoke undo (with a reason) lets it back in; both audited', async () => {
  const start = async () => {
    const r = await runWarden(['task', 'start', '-c', config, '--agent', 'agent-a', '--purpose', 'p', '--tool', 'write_file']);
    assert.equal(r.code, 0, r.stderr);
    const s = new BearerSession(warden!.url, r.stdout.trim());
    await s.initialize();
    return s;
  };
  const reasonOf = async (s: BearerSession): Promise<string | undefined> => {
    const { message } = await s.request('tools/call', { name: 'write_file', arguments: { path: join(data, 'r.txt'), content: 'x' } });
    return (message.error as { data?: { reason?: string } } | undefined)?.data?.reason;
  };
  const until = async (s: BearerSession, want: string | undefined): Promise<void> => {
    let got: string | undefined = 'none yet';
    for (let i = 0; i < 50 && got !== want; i++) {
      got = await reasonOf(s);
      if (got !== want) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(got, want);
  };
  const before = await start();
  assert.equal(await reasonOf(before), undefined, 'allowed before the revocation');

  const revoked = await runWarden(['revoke', 'agent', 'agent-a', '-c', config, '--reason', 'key leaked', '--json']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((JSON.parse(revoked.stdout) as { created: boolean }).created, true);
  await until(before, 'revoked');

  const listed = await runWarden(['revoke', 'list', '-c', config]);
  assert.match(listed.stdout, /agent "agent-a"\s+by cli: key leaked/);
  const listedJson = await runWarden(['revoke', 'list', '-c', config, '--json', '--kind', 'agent']);
  assert.deepEqual(listedJson.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { value: string }).value), ['agent-a']);

  const noReason = await runWarden(['revoke', 'undo', 'agent', 'agent-a', '-c', config]);
  assert.equal(noReason.code, 2, 'undo needs a reason');
  const undone = await runWarden(['revoke', 'undo', 'agent', 'agent-a', '-c', config, '--reason', 'false alarm']);
  assert.equal(undone.code, 0, undone.stderr);
  assert.match(undone.stdout, /lifted the revocation of agent "agent-a"/);
  const after = await start();
  await until(after, undefined);
  const again = await runWarden(['revoke', 'undo', 'agent', 'agent-a', '-c', config, '--reason', 'twice']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not revoked/);
  assert.equal((await runWarden(['revoke', 'list', '-c', config, '--json'])).stdout, '', 'nothing in force');

  const trace = await runWarden(['audit', 'trace', '--agent', 'agent-a', '-c', config, '--json']);
  const events = trace.stdout.trim().split('\n').map((l) => JSON.parse(l) as { method: string; target: string; decision?: { reason?: string } });
  const undo = events.find((e) => e.method === 'revoke/undo');
  assert.ok(events.some((e) => e.method === 'revoke/agent' && e.target === 'agent-a'));
  assert.equal(undo?.target, 'agent-a');
  assert.match(undo?.decision?.reason ?? '', /lifted by cli: false alarm/);
});
