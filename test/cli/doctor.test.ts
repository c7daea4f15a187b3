/**
 * `warden doctor`: one test for each problem it reports (and that a sound config has none), each checking
 * the finding names the place and that the fix says what to change. The gateway it starts is real (real
 * stdio servers, the starter pack), on an ephemeral port; the binary is run for the exit codes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { runDoctor } from '../../src/cli/doctor.js';
import type { Finding } from '../../src/cli/doctor-checks.js';
import { setEnv } from '../helpers/approvals.js';
import { assertBuilt, runWarden, tempDir, writeConfig } from '../helpers/e2e.js';
import { filesystemStdio } from '../helpers/servers.js';

const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));
const tmp = tempDir('warden-doctor-');
let n = 0;
const data = join(tmp.dir, 'data');
mkdirSync(data);

/** A sound config: one filesystem server of tenant acme, the starter pack, anonymous in acme. */
const sound = (over: Record<string, unknown> = {}, servers: Record<string, unknown> = {}): Record<string, unknown> => ({
  listen: '127.0.0.1:7400',
  auth: { mode: 'none' },
  agents: { anonymous: { tenant: 'acme' } },
  policy: { files: [STARTER] },
  mcpServers: { files: { ...filesystemStdio(data), tenant: 'acme', trustAnnotations: true }, ...servers },
  ...over,
});

async function doctorOf(config: Record<string, unknown> | string): Promise<Finding[]> {
  const dir = join(tmp.dir, `case-${++n}`);
  mkdirSync(dir);
  return (await runDoctor(writeConfig(dir, config))).findings;
}

function problem(findings: Finding[], check: RegExp): Finding {
  const f = findings.find((x) => !x.ok && check.test(x.check));
  assert.ok(f, `no problem for ${check}:\n${JSON.stringify(findings, null, 1)}`);
  assert.ok(f.fix && f.fix.length > 10, 'every problem says how to fix it');
  return f;
}

after(() => tmp.remove());

describe('warden doctor', () => {
  test('a sound config: every check ok, each upstream listed, what the agent sees', async () => {
    const findings = await doctorOf(sound());
    assert.deepEqual(findings.filter((f) => !f.ok), []);
    assert.match(findings.find((f) => f.check === 'upstream files')?.detail ?? '', /started and listed: \d+ tools/);
    assert.match(findings.find((f) => f.check === 'agent anonymous')?.detail ?? '', /sees \d+ of \d+ tools \(tenant acme\)/);
  });

  test('an invalid config: the key and the shape, and nothing else is tried', async () => {
    const findings = await doctorOf({ ...sound(), lissten: 'x' });
    assert.equal(findings.length, 1);
    assert.match(problem(findings, /^config$/).detail, /lissten: unknown key \(did you mean "listen"\?\)/);
  });

  test('no auth: the gateway would not start, and the upstreams are not tried', async () => {
    const { auth: _auth, ...noAuth } = sound();
    const findings = await doctorOf(noAuth);
    assert.match(problem(findings, /^auth$/).detail, /no authentication is configured/);
    assert.match(problem(findings, /^upstreams$/).detail, /not checked/);
  });

  test('an issuer key file that is missing', async () => {
    const findings = await doctorOf(sound({ auth: { issuers: [{ issuer: 'https://idp.test', jwksFile: 'nope.json' }] } }));
    const f = problem(findings, /^auth$/);
    assert.match(f.detail, /auth\.issuers\[0\]\.jwksFile \(nope\.json\) cannot be read: ENOENT/);
  });

  test('a SPIFFE bundle without JWT-SVID keys', async () => {
    const bundle = join(tmp.dir, 'bundle.json');
    writeFileSync(bundle, JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', use: 'sig', kid: 'k' }] }));
    const f = problem(await doctorOf(sound({ auth: { spiffe: { trustDomain: 'example.org', bundleFile: bundle } } })), /^auth$/);
    assert.match(f.detail, /auth\.spiffe\.bundleFile .* has no keys with use "jwt-svid"/);
  });

  test('a store that cannot be opened', async () => {
    const dir = join(tmp.dir, 'not-a-db');
    mkdirSync(dir);
    writeFileSync(join(dir, 'warden.db'), 'this is not a SQLite file, it is long enough to have a header......');
    const f = problem(await doctorOf(sound({ store: join(dir, 'warden.db') })), /^store$/);
    assert.match(f.detail, /cannot open the store/);
  });

  test('no policy: everything would be denied', async () => {
    const { policy: _policy, ...none } = sound();
    assert.match(problem(await doctorOf(none), /^policy$/).detail, /every request is denied/);
  });

  test('a policy that does not compile', async () => {
    const bad = join(tmp.dir, 'bad.cedar');
    writeFileSync(bad, 'permit (principal, action, resource) when { resource.nosuch == 1 ');
    problem(await doctorOf(sound({ policy: { files: [bad] } })), /^policy$/);
  });

  test('an approval hold longer than clients wait', async () => {
    assert.match(problem(await doctorOf(sound({ approvals: { approvers: ['bob'], holdSeconds: 120 } })), /^approvals$/).detail, /time out/);
  });

  test('an upstream command that does not exist', async () => {
    const f = problem(await doctorOf(sound({}, { ghost: { command: 'warden-no-such-server-xyz', tenant: 'acme' } })), /^upstream ghost$/);
    assert.match(f.fix!, /"warden-no-such-server-xyz" was not found/);
  });

  test('an upstream that exits: its own last stderr lines, and where its relative paths start', async () => {
    const script = "console.error('Error accessing directory ./nodata'); process.exit(1)";
    const findings = await doctorOf(sound({}, { broken: { command: process.execPath, args: ['-e', script], tenant: 'acme' } }));
    const f = problem(findings, /^upstream broken$/);
    assert.match(f.detail, /Error accessing directory \.\/nodata/);
    assert.match(f.detail, /exited with code 1/);
    assert.match(f.fix!, /relative paths in its args run from \S+case-\d+/);
    assert.ok(findings.some((x) => x.ok && x.check === 'upstream files'), 'the other upstream is still checked');
  });

  test('an upstream command that is not executable', async () => {
    const script = join(tmp.dir, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\n', { mode: 0o644 });
    const f = problem(await doctorOf(sound({}, { locked: { command: script, tenant: 'acme' } })), /^upstream locked$/);
    assert.match(f.detail, /EACCES/);
    assert.match(f.fix!, /cannot be run by this user/);
  });

  test('an HTTP upstream that refuses the gateway', async () => {
    const server = createServer((_req, res) => void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
      const f = problem(await doctorOf(sound({}, { locked: { url, tenant: 'acme' } })), /^upstream locked$/);
      assert.match(f.detail, /HTTP 401/);
      assert.match(f.fix!, /refused the gateway's credentials/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('an upstream that uses a lease is not started (it connects within tasks), and is no problem', async () => {
    const restore = setEnv('WARDEN_DOCTOR_TEST_LEASE_SECRET', 'lease-client-secret-0123456789');
    try {
      const leases = { api: { provider: 'oauth-exchange', tokenUrl: 'http://127.0.0.1:1/token', clientId: 'warden', clientSecretEnv: 'WARDEN_DOCTOR_TEST_LEASE_SECRET' } };
      const findings = await doctorOf(sound({ leases }, { api: { url: 'http://127.0.0.1:1/mcp', headers: { Authorization: 'Bearer ${lease:api}' }, tenant: 'acme' } }));
      assert.deepEqual(findings.filter((f) => !f.ok), []);
      assert.match(findings.find((f) => f.check === 'upstream api')?.detail ?? '', /connects only within a task/);
    } finally {
      restore();
    }
  });

  test('an HTTP upstream nobody answers', async () => {
    const f = problem(await doctorOf(sound({}, { remote: { url: 'http://127.0.0.1:1/mcp', tenant: 'acme' } })), /^upstream remote$/);
    assert.match(f.fix!, /nothing answers at mcpServers\.remote\.url/);
  });

  test('an agent that sees none of the tools: the first reason and the config change', async () => {
    // The README's first example: no tenant anywhere, so the starter pack shows nothing.
    const { agents: _agents, ...untenanted } = sound();
    const f = problem(await doctorOf({ ...untenanted, mcpServers: { files: filesystemStdio(data) } }), /^agent anonymous$/);
    assert.match(f.detail, /sees 0 of \d+ tools \(no tenant\): server files: no policy permits anonymous to list/);
    assert.match(f.fix!, /set agents\["anonymous"\]\.tenant and mcpServers\.files\.tenant/);
  });

  test('an agent registered without a tenant, in front of servers that have one', async () => {
    const f = problem(await doctorOf(sound({ agents: {} })), /^agent anonymous$/);
    assert.match(f.fix!, /agent anonymous has no tenant and server files belongs to tenant acme/);
  });

  test("an agent of another tenant than the servers'", async () => {
    const f = problem(await doctorOf(sound({ agents: { anonymous: { tenant: 'globex' } } })), /^agent anonymous$/);
    assert.match(f.detail, /server files: another tenant's servers and tools are off limits/);
    assert.match(f.fix!, /agent anonymous is in tenant globex, server files in tenant acme/);
  });

  test('a gateway that would not start (an unresolvable secret)', async () => {
    const dir = join(tmp.dir, 'keyed');
    mkdirSync(dir);
    writeFileSync(join(dir, 'master.key'), randomBytes(32).toString('hex'));
    const findings = await doctorOf(sound({ vault: { masterKeyFile: join(dir, 'master.key') } }, { api: { url: 'https://api.example/mcp', headers: { Authorization: 'Bearer ${secret:api/token}' }, tenant: 'acme' } }));
    assert.match(problem(findings, /^start$/).detail, /api\/token/);
  });
});

describe('warden doctor, the binary', () => {
  before(() => assertBuilt());
  test('exit 0 without problems, 1 with; --json', async () => {
    const good = join(tmp.dir, 'bin-good');
    mkdirSync(good);
    writeConfig(good, sound());
    const r = await runWarden(['doctor'], { cwd: good, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /no problems found/);
    const bad = join(tmp.dir, 'bin-bad');
    mkdirSync(bad);
    writeConfig(bad, sound({ agents: {} }));
    const j = await runWarden(['doctor', '--json', '-c', join(bad, 'warden.yaml')], { timeoutMs: 60_000 });
    assert.equal(j.code, 1, j.stdout + j.stderr);
    const report = JSON.parse(j.stdout) as { ok: boolean; findings: Finding[] };
    assert.equal(report.ok, false);
    assert.ok(report.findings.some((f) => !f.ok && f.check === 'agent anonymous'));
  });
});
