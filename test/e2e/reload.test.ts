/**
 * SIGHUP on the real `warden serve`: the config file is read again and policies, agent registrations and
 * upstreams (added, removed) change for the next request of an open session, whose client is told its
 * list changed; what needs a restart (the listen address) is logged and left as it runs; a config that does
 * not load, or an upstream whose secrets cannot be had, changes nothing at all. Every reload is audited.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { assertBuilt, childPids, cmdline, connectClient, runWarden, startWarden, tempDir, waitFor, writeConfig, type RunningWarden } from '../helpers/e2e.js';
import { everythingStdio, filesystemStdio } from '../helpers/servers.js';

/** Only agents registered in tenant acme may do anything. */
const ACME_ONLY = 'permit (principal is Agent, action, resource) when { principal has tenant && principal.tenant == "acme" };\n';
const NOTHING = 'forbid (principal, action, resource);\n';

describe('warden serve: SIGHUP reloads the config', () => {
  const tmp = tempDir();
  const data = join(tmp.dir, 'data');
  let warden: RunningWarden | undefined;
  let client: Client | undefined;
  let listChanged = 0;
  let port = '';
  const base = (o: Record<string, unknown>) => ({ listen: port, auth: { mode: 'none' }, store: 'warden.db', log: { level: 'info' }, policy: { files: ['acme.cedar'] }, ...o });
  const names = async () => (await client!.listTools()).tools.map((t) => t.name).sort();
  /** Sends SIGHUP and waits for the reload's log line (the n-th of its kind). */
  const hup = async (kind: 'config reloaded' | 'config reload refused'): Promise<void> => {
    const count = () => warden!.stderr().split(kind).length - 1;
    const before = count();
    warden!.child.kill('SIGHUP');
    assert.ok(await waitFor(() => count() > before, 15_000), `no "${kind}" after SIGHUP:\n${warden!.stderr().slice(-3000)}`);
  };

  before(async () => {
    assertBuilt();
    mkdirSync(data);
    writeFileSync(join(tmp.dir, 'acme.cedar'), ACME_ONLY);
    writeFileSync(join(tmp.dir, 'nothing.cedar'), NOTHING);
    port = '127.0.0.1:0';
    const file = writeConfig(tmp.dir, base({ mcpServers: { everything: everythingStdio() } }));
    warden = await startWarden(file);
    port = new URL(warden.url).host;
    client = await connectClient(warden.url);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await warden?.stop(5_000);
    tmp.remove();
  });

  test('agents and upstreams: an agent registered into the tenant sees tools; an added upstream is listed; listen needs a restart', async () => {
    assert.deepEqual(await names(), [], 'anonymous has no tenant: the policy shows nothing');
    writeConfig(tmp.dir, base({ listen: '127.0.0.1:1', agents: { anonymous: { tenant: 'acme' } }, mcpServers: { everything: everythingStdio(), files: filesystemStdio(data) } }));
    await hup('config reloaded');
    const after = await names();
    assert.ok(after.includes('everything__echo') && after.includes('files__write_file'), after.join(', '));
    assert.match(warden!.stderr(), /upstreams added: files; agents added: anonymous/);
    assert.match(warden!.stderr(), /listen changed but cannot be reloaded; restart the gateway to apply/);
    assert.equal(new URL(warden!.url).host, port, 'still listening where it was');
    assert.ok(await waitFor(() => listChanged > 0, 5_000), 'the client was told its tool list changed');
    const echo = await client!.callTool({ name: 'everything__echo', arguments: { message: 'hi' } });
    assert.ok(!echo.isError);
  });

  test('a removed upstream: no longer listed or callable, and its process ends', async () => {
    const everythingPids = () => childPids(warden!.child.pid!).filter((p) => cmdline(p).includes('server-everything'));
    assert.ok(everythingPids().length > 0, 'the everything upstream runs');
    writeConfig(tmp.dir, base({ listen: '127.0.0.1:1', agents: { anonymous: { tenant: 'acme' } }, mcpServers: { files: filesystemStdio(data) } }));
    await hup('config reloaded');
    const tools = await names();
    assert.ok(tools.length > 0 && tools.every((n) => !n.startsWith('everything')), tools.join(', '));
    const refused = await client!.callTool({ name: 'everything__echo', arguments: { message: 'hi' } }).then(
      (r) => r,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof Error, 'the removed upstream is not reachable');
    assert.ok(await waitFor(() => everythingPids().length === 0, 10_000), 'its process was stopped');
  });

  test('all or nothing: a config that does not load, or a new upstream whose secret cannot be had, changes nothing (not even the policy)', async () => {
    const tools = await names();
    writeFileSync(join(tmp.dir, 'warden.yaml'), 'mcpServers: [this is not: valid');
    await hup('config reload refused');
    assert.deepEqual(await names(), tools);
    writeConfig(
      tmp.dir,
      base({
        policy: { files: ['nothing.cedar'] },
        agents: { anonymous: { tenant: 'acme' } },
        mcpServers: { files: filesystemStdio(data), api: { url: 'http://127.0.0.1:9/mcp', headers: { Authorization: 'Bearer ${secret:api-token}' } } },
      }),
    );
    await hup('config reload refused');
    assert.match(warden!.stderr(), /mcpServers\.api\.headers\.Authorization: references secret api-token/);
    assert.deepEqual(await names(), tools, 'the policy that would hide everything is not in force');
    // The same policy change on its own is applied.
    writeConfig(tmp.dir, base({ policy: { files: ['nothing.cedar'] }, agents: { anonymous: { tenant: 'acme' } }, mcpServers: { files: filesystemStdio(data) } }));
    await hup('config reloaded');
    assert.deepEqual(await names(), []);
  });

  test('every reload is a config/reload audit event saying what changed, what was refused and why', async () => {
    const r = await runWarden(['audit', 'tail', '--json', '-n', '1000', '-c', join(tmp.dir, 'warden.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    const reloads = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { method: string; outcome: string; decision: { reason: string } })
      .filter((e) => e.method === 'config/reload');
    assert.deepEqual(reloads.map((e) => e.outcome), ['ok', 'ok', 'error', 'error', 'ok']);
    assert.match(reloads[0]!.decision.reason, /upstreams added: files; agents added: anonymous; policy version \S+; not reloaded \(restart to apply\): listen/);
    assert.match(reloads[1]!.decision.reason, /upstreams removed: everything/);
    assert.match(reloads[3]!.decision.reason, /refused.*api-token/s);
  });
});
