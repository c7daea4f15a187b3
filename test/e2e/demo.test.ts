/** `warden demo` in a fresh directory: the reference servers behind the gateway, a short session, the audit. */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertBuilt, runWarden, tempDir } from '../helpers/e2e.js';

const tmp = tempDir('warden-demo-');
before(() => assertBuilt());
after(() => tmp.remove());

test('warden demo plays a session through the gateway and leaves its audit store in .warden/demo', async () => {
  const started = Date.now();
  const r = await runWarden(['demo'], { cwd: tmp.dir, timeoutMs: 60_000 });
  const out = r.stdout;
  assert.equal(r.code, 0, `demo exited ${r.code}:\n${out}\n${r.stderr}`);
  assert.ok(Date.now() - started < 60_000);

  assert.match(out, /listening|one MCP endpoint at http:\/\/127\.0\.0\.1:\d+\/mcp/);
  const count = /tools\/list: (\d+) tools/.exec(out);
  assert.ok(count, `no tool count in:\n${out}`);
  assert.ok(Number(count[1]) >= 20, `only ${count[1]} tools`);
  assert.match(out, /everything \d+, files \d+, memory \d+/);
  assert.match(out, /Echo: hello through the gateway/);
  assert.match(out, /Hello from a file behind mcp-warden\./);
  assert.match(out, /mcp-warden/);
  assert.match(out, /unknown tool is refused.*Unknown tool: nosuch__tool/);
  // Policy: the starter pack hides what no policy permits, holds a destructive prod write for approval,
  // and denies a write whose normalised path leaves the allowed folder.
  assert.doesNotMatch(out, /NOT refused/);
  assert.match(out, /write_file in the demo folder \(destructive, prod\) is held: approval request \S+, "destructive tools in prod need a human approval"/);
  assert.match(out, /alice approves it .* -> Successfully wrote to/);
  assert.match(out, /escape\.txt -> MCP error -32008: Denied by policy/);
  assert.ok(!existsSync(join(tmp.dir, '.warden', 'demo', 'escape.txt')), 'the escaping write reached the server');
  assert.match(out, /^\s+\S+Z\s+tools\/call\s+\S+\s+\S+\s+files\/write_file\s+ok\s/m);
  assert.match(out, /^\s+\S+Z\s+tools\/call\s+\S+\s+\S+\s+files\/write_file\s+denied\(policy_denied\)/m);

  // The audit lines: one table row per request, the calls with their upstream/target and the refusal.
  assert.match(out, /audit log recorded every request/);
  assert.match(out, /^\s+\S+Z\s+initialize\s/m);
  assert.match(out, /^\s+\S+Z\s+tools\/list\s/m);
  assert.match(out, /^\s+\S+Z\s+tools\/call\s+\S+\s+\S+\s+everything\/echo\s+ok\s/m);
  assert.match(out, /^\s+\S+Z\s+tools\/call\s+\S+\s+\S+\s+files\/read_text_file\s+ok\s/m);
  assert.match(out, /^\s+\S+Z\s+tools\/call\s+\S+\s+\S+\s+memory\/read_graph\s+ok\s/m);
  assert.match(out, /^\s+\S+Z\s+tools\/call\s+\S+\s+\S+\s+-\s+error\(unknown_tool\)/m);

  const db = join(tmp.dir, '.warden', 'demo', 'warden.db');
  assert.ok(existsSync(db), `${db} was not created`);
  assert.ok(statSync(db).size > 0);
  assert.ok(out.includes(db), 'the demo says where the audit store is');

  // What the demo printed can be read again with the CLI it points to.
  const tail = await runWarden(['audit', 'tail', '--json', '--config', join(tmp.dir, '.warden', 'demo', 'warden.yaml')]);
  assert.equal(tail.code, 0, tail.stderr);
  const methods = tail.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { method: string }).method);
  assert.ok(methods.filter((m) => m === 'tools/call').length >= 5, methods.join(', '));
});
