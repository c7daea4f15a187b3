/**
 * `warden demo` tells the whole story, offline, in a fresh folder each run, in under 15 s: workload identity
 * and token exchange, a task granted by policy, a leased credential the agent never sees, a delegation with
 * less authority, a write approved through the real `warden approvals approve`, a `../` escape refused with
 * its reason, a revoked task refused on the very next call, the trace and the verified chain.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertBuilt, runWarden, tempDir } from '../helpers/e2e.js';

const tmp = tempDir('warden-demo-');
before(() => assertBuilt());
after(() => tmp.remove());

interface Event {
  method: string;
  outcome: string;
  agent: string | null;
  user: string | null;
  chain: string[];
  approvalId?: string | null;
  errorCode: string | null;
}

test('warden demo tells the mission end to end, and its audit log says the same', async () => {
  const temp = join(tmp.dir, 'system-temp');
  mkdirSync(temp);
  // The bound is 15 s on a machine that starts the CLI within a second (here idle: about 0.4 s). A machine
  // so busy that starting it takes longer gets the same bound scaled by how much longer: the demo starts
  // node processes (itself, two CLI commands, two servers), so it slows down as they do.
  const calibrating = Date.now();
  assert.equal((await runWarden(['--version'], { timeoutMs: 120_000 })).code, 0);
  const slowdown = Math.max(1, (Date.now() - calibrating) / 1000);
  const started = Date.now();
  const r = await runWarden(['demo'], { cwd: tmp.dir, env: { ...process.env, TMPDIR: temp }, timeoutMs: 60_000 * slowdown });
  const elapsed = Date.now() - started;
  const out = r.stdout;
  assert.equal(r.code, 0, `demo exited ${r.code}:\n${out}\n${r.stderr}`);
  assert.ok(elapsed < 15_000 * slowdown, `the demo took ${elapsed} ms (bound ${15_000 * slowdown} ms: the CLI started ${slowdown.toFixed(1)}x slower than 1 s)`);
  const folder = /made fresh in (\S+) \(/.exec(out)?.[1];
  assert.ok(folder !== undefined && folder.startsWith(temp), `a fresh folder in the temporary directory: ${folder}`);

  // Identity: a JWT-SVID, a token exchange for alice, a task whose grant policy decided (and narrowed).
  assert.match(out, /planner acting for alice, tenant demo, scopes "mcp files:read files:write reports:read"/);
  assert.match(out, /granted files, reports, files__write_file; refused payroll \(another tenant's servers and tools are off limits\)/);
  const task = /^\s+task (\S+): the token works only within it/m.exec(out)?.[1];
  assert.ok(task, out);
  // Reads allowed; the leased credential reached the upstream and was redacted on its way back.
  assert.match(out, /planner -> files__read_text_file files\/draft\.md: # Weekly report/);
  assert.match(out, /planner -> reports__weekly_figures: Week 23 for alice: .*Bearer \[redacted:lease\]/);
  assert.doesNotMatch(out + r.stderr, /rpt_/, 'the leased token never appears');
  // Delegation: one hop, less authority, and the missing scope is enforced.
  assert.match(out, /writer acting for alice, delegated by planner, same task, scopes "mcp files:read files:write"/);
  assert.match(out, /writer -> reports__weekly_figures: REFUSED: .*reading reports needs the reports:read scope/);
  // The write is held, approved through the real CLI, then runs.
  const approval = /files\/report\.md: HELD, approval request (\S+)/.exec(out)?.[1];
  assert.ok(approval, out);
  assert.match(out, new RegExp(`\\$ warden approvals approve ${approval} --as bob .*\\n\\s+${approval} approved by bob`));
  assert.match(out, /files\/report\.md, once approved: Successfully wrote to/);
  assert.ok(existsSync(join(folder, 'files', 'report.md')));
  // The escape is refused with its reason, and nothing was written outside the folder.
  assert.match(out, /files\/\.\.\/escape\.txt: REFUSED: .*file paths must stay inside the demo's files\/ folder/);
  assert.ok(!existsSync(join(folder, 'escape.txt')), 'the escaping write reached the server');
  // Revocation through the CLI, and the very next call is refused.
  assert.match(out, new RegExp(`\\$ warden revoke task ${task}`));
  assert.match(out, /\(the very next call\): REFUSED: .*has been revoked/);
  // The trace and the verified chain.
  assert.match(out, new RegExp(`\\$ warden audit trace --task ${task}`));
  assert.match(out, /audit chain INTACT: \d+ events, [1-9]\d* checkpoints?/);

  // The store says the same, read with the CLI the demo points to.
  const trace = await runWarden(['audit', 'trace', '--task', task, '--json', '-c', join(folder, 'warden.yaml')]);
  assert.equal(trace.code, 0, trace.stderr);
  const events = trace.stdout.trim().split('\n').map((l) => JSON.parse(l) as Event);
  const methods = events.map((e) => e.method);
  for (const m of ['oauth/token', 'task/start', 'lease/issue', 'approval/request', 'approval/approve', 'response/redacted', 'revoke/task']) {
    assert.ok(methods.includes(m), `${m} missing from the trace: ${methods.join(', ')}`);
  }
  const approved = events.find((e) => e.method === 'approval/approve');
  assert.equal(approved?.approvalId, approval, 'the approval was decided through the CLI and audited');
  const write = events.find((e) => e.method === 'tools/call' && e.outcome === 'ok' && e.approvalId === approval);
  assert.deepEqual([write?.agent, write?.user, write?.chain], ['spiffe://demo.test/writer', 'alice', ['spiffe://demo.test/planner']]);
  const last = events.filter((e) => e.method === 'tools/call' && e.outcome !== 'intent').at(-1);
  assert.equal(last?.outcome, 'denied', 'the call after the revocation was refused');
  // By the revocation list (once it has polled the store) or by the task's state (read on every request).
  assert.ok(['revoked', 'task_inactive'].includes(String(last?.errorCode)), String(last?.errorCode));

  // Another run starts from nothing: another folder, a store of its own.
  const dir = join(tmp.dir, 'second');
  const again = await runWarden(['demo', '--dir', dir], { cwd: tmp.dir, timeoutMs: 60_000 * slowdown });
  assert.equal(again.code, 0, again.stderr);
  // The count differs by a few between runs (how many of the clients' stream requests end in errors), so
  // compare it with twice the first run's: a store inherited from the first run would hold at least that.
  const count = (text: string) => Number(/audit chain INTACT: (\d+) events/.exec(text)?.[1]);
  assert.ok(count(out) > 10 && count(again.stdout) < count(out) * 1.5, `the second run did not inherit the first one's events (${count(out)}, then ${count(again.stdout)})`);
  assert.deepEqual(readdirSync(temp), [folder.slice(temp.length + 1)], 'the run with --dir wrote nothing in the temporary directory');
  const refused = await runWarden(['demo', '--dir', dir]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /is not empty/);
});
