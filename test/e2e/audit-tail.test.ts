/**
 * `warden audit tail` (the real binary) on a real SQLite store written through the real recorder: agent and
 * user columns, time order, each filter (agent, user, task, outcome, since), `--follow` printing new matches
 * as they are committed, and values from outside (a claim with a newline or an escape sequence) that can
 * neither forge a row nor reach the terminal raw.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuditRecorder, type AuditDraft } from '../../src/audit/recorder.js';
import { openStore, type Store } from '../../src/store/index.js';
import { silentLogger } from '../../src/telemetry/log.js';
import { assertBuilt, runWarden, stopChild, tempDir, waitFor, WARDEN_BIN, writeConfig } from '../helpers/e2e.js';
import { ROOT } from '../helpers/servers.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

function draft(o: Partial<AuditDraft> & { startedAt: number }): AuditDraft {
  return {
    agent: 'planner',
    user: 'alice',
    tenant: 'acme',
    chain: [],
    authMethod: 'oauth-jwt',
    task: null,
    sessionId: 'sess-0001-aaaa',
    protocolVersion: '2025-06-18',
    method: 'tools/call',
    upstream: 'files',
    target: 'read_text_file',
    argsDigest: null,
    outcome: 'ok',
    errorCode: null,
    ...o,
  };
}

const rows = (stdout: string): string[] => stdout.split('\n').filter((l) => l.length > 0);

describe('warden audit tail', () => {
  const tmp = tempDir();
  let config = '';
  let store: Store;
  let recorder: AuditRecorder;

  before(async () => {
    assertBuilt();
    config = writeConfig(tmp.dir, { store: 'audit.db', mcpServers: {} });
    store = await openStore(join(tmp.dir, 'audit.db'));
    recorder = new AuditRecorder(store.audit, silentLogger(), { instance: 'test' });
    // Recorded out of time order (a long call is committed after a short one that arrived later).
    await recorder.record(draft({ startedAt: T0 + 3000, agent: 'coder', user: 'bob', chain: ['planner'], task: 'task-b', target: 'write_file', outcome: 'denied', errorCode: 'policy_denied', decision: { effect: 'deny', policyIds: ['no-writes'] } }));
    await recorder.record(draft({ startedAt: T0 + 1000, task: 'task-a' }));
    await recorder.record(draft({ startedAt: T0 + 2000, task: 'task-a', target: 'list_directory', outcome: 'error', errorCode: 'upstream_error' }));
    await recorder.record(draft({ startedAt: T0 + 4000, agent: null, user: null, method: 'initialize', upstream: null, target: null, sessionId: null }));
  });
  after(async () => {
    await store.close();
    tmp.remove();
  });

  test('a header, then one row per event oldest first in time order, with agent (and its delegation) and user', async () => {
    const r = await runWarden(['audit', 'tail', '-c', config]);
    assert.equal(r.code, 0, r.stderr);
    const [header, ...lines] = rows(r.stdout);
    assert.match(header!, /^TIME\s+METHOD\s+AGENT\s+USER\s+TARGET/);
    assert.equal(lines.length, 4);
    assert.deepEqual(
      lines.map((l) => l.slice(0, 24)),
      [1000, 2000, 3000, 4000].map((d) => new Date(T0 + d).toISOString()),
    );
    assert.match(lines[0]!, /tools\/call\s+planner\s+alice\s+files\/read_text_file\s+ok\s/);
    assert.match(lines[2]!, /tools\/call\s+coder via planner\s+bob\s+files\/write_file\s+denied\(policy_denied\)\s.*deny by no-writes$/);
    assert.match(lines[3]!, /initialize\s+-\s+-\s+-\s+ok\s/);
    const two = await runWarden(['audit', 'tail', '-c', config, '-n', '2', '--json']);
    // The last two committed, shown in time order.
    assert.deepEqual(rows(two.stdout).map((l) => (JSON.parse(l) as { time: string }).time), [T0 + 2000, T0 + 4000].map((t) => new Date(t).toISOString()));
  });

  test('filters: agent (acting or delegating), user, task, outcome, since; and together', async () => {
    const targets = async (...args: string[]): Promise<string[]> => {
      const r = await runWarden(['audit', 'tail', '-c', config, '--json', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return rows(r.stdout).map((l) => {
        const e = JSON.parse(l) as { method: string; target: string | null };
        return e.target ?? e.method;
      });
    };
    assert.deepEqual(await targets('--agent', 'coder'), ['write_file']);
    assert.deepEqual(await targets('--agent', 'planner'), ['read_text_file', 'list_directory', 'write_file'], 'planner acted or delegated');
    assert.deepEqual(await targets('--user', 'alice'), ['read_text_file', 'list_directory']);
    assert.deepEqual(await targets('--task', 'task-a'), ['read_text_file', 'list_directory']);
    assert.deepEqual(await targets('--outcome', 'error'), ['list_directory']);
    assert.deepEqual(await targets('--outcome', 'denied', '--user', 'bob'), ['write_file']);
    assert.deepEqual(await targets('--since', new Date(T0 + 2500).toISOString()), ['write_file', 'initialize']);
    assert.deepEqual(await targets('--user', 'nobody'), []);
    const none = await runWarden(['audit', 'tail', '-c', config, '--user', 'nobody']);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /no matching audit events/);
  });

  test('a value with a newline, carriage return or escape sequence stays inside its row, escaped', async () => {
    const forged = `mallory\n${new Date(T0).toISOString()}  tools/call  admin  root  files/secrets  ok`;
    await recorder.record(draft({ startedAt: T0 + 5000, agent: forged, user: '\u001b[2J\u001b[31mroot\u001b[0m', target: 'x\rok', task: 'evil' }));
    const r = await runWarden(['audit', 'tail', '-c', config, '--task', 'evil']);
    assert.equal(r.code, 0, r.stderr);
    const lines = rows(r.stdout);
    assert.equal(lines.length, 2, `one header and one row:\n${r.stdout}`);
    const raw = [...r.stdout].filter((c) => c !== '\n' && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f));
    assert.deepEqual(raw, [], 'no raw control character reaches the terminal');
    assert.match(lines[1]!, /mallory\\u000a2026-03-01T10:00:00\.000Z {2}tools\/call/);
    assert.match(lines[1]!, /\\u001b\[2J\\u001b\[31mroot\\u001b\[0m/);
    assert.match(lines[1]!, /files\/x\\u000dok/);
    // JSON keeps the value exactly (escaped by JSON itself).
    const json = await runWarden(['audit', 'tail', '-c', config, '--task', 'evil', '--json']);
    assert.equal((JSON.parse(rows(json.stdout)[0]!) as { agent: string }).agent, forged);
  });

  test('--follow prints new events that match as they are committed, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [WARDEN_BIN, 'audit', 'tail', '-c', config, '--follow', '--agent', 'watcher', '-n', '5'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    try {
      assert.ok(await waitFor(() => out.startsWith('TIME'), 10_000), `no header: ${out}`);
      const now = Date.now();
      await recorder.record(draft({ startedAt: now, agent: 'watcher', target: 'first' }));
      await recorder.record(draft({ startedAt: now, agent: 'someone-else', target: 'hidden' }));
      await recorder.record(draft({ startedAt: now, agent: 'watcher', target: 'second', outcome: 'denied', errorCode: 'revoked' }));
      assert.ok(await waitFor(() => out.includes('files/second'), 10_000), `not followed:\n${out}`);
      const lines = rows(out);
      assert.equal(lines.length, 3, out);
      assert.match(lines[1]!, /files\/first/);
      assert.match(lines[2]!, /files\/second\s+denied\(revoked\)/);
      assert.ok(!out.includes('hidden'));
    } finally {
      const exit = await stopChild(child, 'SIGTERM', 5_000);
      assert.deepEqual([exit.code, exit.killed], [0, false], 'a clean exit on SIGTERM');
    }
  });

  test('--follow on a store that does not exist yet waits for it, and never creates it', async () => {
    const dir = tempDir();
    try {
      const cfg = writeConfig(dir.dir, { store: 'later/audit.db', mcpServers: {} });
      const child = spawn(process.execPath, [WARDEN_BIN, 'audit', 'tail', '-c', cfg, '--follow'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      try {
        assert.ok(await waitFor(() => out.startsWith('TIME'), 10_000));
        await new Promise((r) => setTimeout(r, 700));
        assert.ok(!(await import('node:fs')).existsSync(join(dir.dir, 'later')), 'the follower created nothing');
        const late = await openStore(join(dir.dir, 'later', 'audit.db'));
        await new AuditRecorder(late.audit, silentLogger(), { instance: 'test' }).record(draft({ startedAt: Date.now(), target: 'arrived' }));
        await late.close();
        assert.ok(await waitFor(() => out.includes('files/arrived'), 10_000), `not followed:\n${out}`);
      } finally {
        await stopChild(child, 'SIGTERM', 5_000);
      }
    } finally {
      dir.remove();
    }
  });
});
