/**
 * The real binary (`node bin/warden.js`, built from dist/) for policy authoring: `init` writes a working
 * starting point, `policy validate` lists or refuses policies with file:line:col, `policy test` passes and
 * fails cases, `policy explain` says why, `policy schema` shows the configured arguments.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { assertBuilt, runWarden, tempDir, WARDEN_BIN } from '../helpers/e2e.js';
import { ROOT } from '../helpers/servers.js';

const tmp = tempDir('warden-policy-cli-');
const proj = join(tmp.dir, 'proj');
const warden = (args: string[], cwd = proj) => runWarden(args, { cwd });

const REQUEST = `principal: { agent: agent-a, tenant: acme }
action: call_tool
resource:
  tool: files__delete_file
  server: { name: files, tenant: acme }
context:
  arguments: { path: /data/a/../b/./x.txt, other: secret-value }
  task: { id: t1, tools: [files__delete_file] }
`;

describe('warden init and warden policy, the real binary', () => {
  before(() => assertBuilt());
  after(() => tmp.remove());

  test('init writes a config and the starter pack, and says what next', async () => {
    const r = await runWarden(['init', '--dir', proj], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['warden.yaml', 'policies/starter.cedar', 'policies/starter.test.yaml']) {
      assert.ok(existsSync(join(proj, f)), f);
      assert.match(r.stdout, new RegExp(`wrote proj/${f.replace('.', '\\.')}`));
    }
    assert.equal(readFileSync(join(proj, 'policies/starter.cedar'), 'utf8'), readFileSync(join(ROOT, 'policies/starter/starter.cedar'), 'utf8'));
    assert.match(r.stdout, /warden policy test policies\/starter\.test\.yaml/);
    assert.match(r.stdout, /warden serve -c warden\.yaml/);
    const { config } = loadConfig(join(proj, 'warden.yaml'));
    assert.equal(config.listen, '127.0.0.1:7400');
    assert.deepEqual(config.auth, { mode: 'none' });
    assert.deepEqual(config.policy?.files, ['policies']);
    const files = config.mcpServers.files!;
    assert.deepEqual([files.environment, files.tenant, files.trustAnnotations, Object.keys(files.tools ?? {}).length > 0], ['dev', 'acme', true, true]);
  });

  test('init refuses to overwrite (naming the file), --force overwrites', async () => {
    writeFileSync(join(proj, 'policies/starter.test.yaml'), '# mine\n');
    const refused = await warden(['init']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /warden\.yaml already exists/);
    assert.match(refused.stderr, /policies\/starter\.test\.yaml already exists/);
    assert.equal(readFileSync(join(proj, 'policies/starter.test.yaml'), 'utf8'), '# mine\n', 'nothing was touched');
    const forced = await warden(['init', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(join(proj, 'policies/starter.test.yaml'), 'utf8'), '# mine\n');
  });

  test('policy test: the written pack passes', async () => {
    const r = await warden(['policy', 'test', 'policies/starter.test.yaml']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL) /.test(l));
    assert.ok(lines.length >= 15 && lines.every((l) => l.startsWith('PASS ')), r.stdout);
    assert.match(r.stdout, /PASS reads in own tenant are allowed: expected allow, got allow \(policies read-tools-own-tenant; reason [^)]+\)/);
    assert.match(r.stdout, new RegExp(`^${lines.length} passed, 0 failed$`, 'm'));
  });

  test('policy test: a failing case, and a case file using the config policy, exit 1', async () => {
    const failing = `cases:
  - name: other tenants are readable
    principal: { agent: agent-a, tenant: acme }
    action: call_tool
    resource: { tool: crm__read, server: { name: crm, tenant: globex }, access: read, destructive: false }
    expect: allow
  - name: own reads are allowed
    principal: { agent: agent-a, tenant: acme }
    action: call_tool
    resource: { tool: files__read, server: { name: files, tenant: acme }, access: read, destructive: false }
    expect: allow
    policies: [read-tools-own-tenant]
`;
    writeFileSync(join(proj, 'failing.test.yaml'), failing);
    const r = await warden(['policy', 'test', 'failing.test.yaml']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL other tenants are readable: expected allow, got deny \(policies forbid-other-tenants; /);
    assert.match(r.stdout, /PASS own reads are allowed/);
    assert.match(r.stdout, /1 passed, 1 failed/);
    writeFileSync(join(proj, 'broken.test.yaml'), 'cases:\n  - name: x\n    action: call_tool\n');
    const broken = await warden(['policy', 'test', 'broken.test.yaml']);
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /broken\.test\.yaml:2:\d+: cases\[0\] "x": principal: required/);
  });

  test('policy validate: the configured set, then a broken file with file:line:col', async () => {
    const ok = await warden(['policy', 'validate']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^approve-destructive-in-prod\s+permit @approval\s+policies\/starter\.cedar:\d+:\d+\s+compiled$/m);
    assert.match(ok.stdout, /^forbid-other-tenants\s+forbid\s+policies\/starter\.cedar:\d+:\d+\s+compiled$/m);
    assert.match(ok.stdout, /valid: 9 policies in 1 file \(1 needs approval\), 0 warnings, version [0-9a-f]{16}/);
    writeFileSync(join(proj, 'bad.cedar'), '@id("typo")\npermit (principal is Agent, action, resource)\nwhen { principal.tennant == "acme" };\n');
    const bad = await warden(['policy', 'validate', 'bad.cedar']);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /^bad\.cedar:3:8: .*tennant/m);
    assert.match(bad.stdout, /^invalid: 1 problem/m);
    const usage = await warden(['policy', 'validate'], tmp.dir);
    assert.equal(usage.code, 2, 'no files and no config is a usage error');
  });

  test('policy explain: the decision, its policies and the Cedar request as built', async () => {
    writeFileSync(join(proj, 'request.yaml'), REQUEST);
    const text = await warden(['policy', 'explain', '--request', 'request.yaml']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^decision: needs-approval$/m);
    assert.match(text.stdout, /approve-destructive-in-prod \(permit @approval\) at policies\/starter\.cedar:\d+:1: destructive tools in prod need a human approval/);
    assert.match(text.stdout, /^policy version: [0-9a-f]{16}$/m);
    // Standard input, as JSON output.
    const r = spawnSync(process.execPath, [WARDEN_BIN, 'policy', 'explain', '--json'], { cwd: proj, input: REQUEST, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown> & { request: Record<string, unknown> & { context: Record<string, unknown>; entities: Array<{ uid: unknown }> } };
    assert.deepEqual(Object.keys(out).sort(), ['effect', 'errors', 'policies', 'policyIds', 'reason', 'request', 'version']);
    assert.deepEqual([out.effect, out.policyIds], ['needs-approval', ['approve-destructive-in-prod']]);
    assert.deepEqual(out.request.principal, { type: 'Agent', id: 'agent-a' });
    assert.deepEqual(out.request.resource, { type: 'Tool', id: 'files__delete_file' });
    assert.deepEqual(out.request.context.arguments, { path: '/data/b/x.txt' }, 'normalised and projected: the undeclared argument is not in the request');
    assert.deepEqual(out.request.entities.map((e) => e.uid), [{ type: 'Agent', id: 'agent-a' }, { type: 'Tool', id: 'files__delete_file' }, { type: 'Server', id: 'files' }]);
    assert.doesNotMatch(r.stdout, /secret-value/);
    // The gateway's task-grant check runs first: a task that does not grant the tool denies it.
    writeFileSync(join(proj, 'outside.yaml'), REQUEST.replace('tools: [files__delete_file]', 'tools: [files__read_file]'));
    const outside = await warden(['policy', 'explain', '--request', 'outside.yaml']);
    assert.equal(outside.code, 0, outside.stderr);
    assert.match(outside.stdout, /^decision: deny\ndetermining policies: none\nreason: outside the grant of task t1$/m);
    const bad = spawnSync(process.execPath, [WARDEN_BIN, 'policy', 'explain'], { cwd: proj, input: 'action: fly\n', encoding: 'utf8', timeout: 20_000 });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /<stdin>:1:9: action: /);
  });

  test('policy schema: the gateway schema with the configured arguments', async () => {
    const plain = await warden(['policy', 'schema']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /type Arguments = \{ path\?: String,/);
    assert.match(plain.stdout, /action call_tool appliesTo/);
    mkdirSync(join(tmp.dir, 'custom'));
    writeFileSync(join(tmp.dir, 'custom', 'w.yaml'), 'policy: { arguments: { ticket: String } }\nmcpServers: {}\n');
    const custom = await warden(['policy', 'schema', '-c', join(tmp.dir, 'custom', 'w.yaml')]);
    assert.equal(custom.code, 0, custom.stderr);
    assert.match(custom.stdout, /type Arguments = \{ ticket\?: String \};/);
  });
});
