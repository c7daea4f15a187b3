/**
 * Attack on the console's live tail (server-sent events): a person opens the tail, then a config reload takes
 * them out of `console.roles`. Every other request is refused at once; the tail, opened while they had the
 * role, must not keep streaming the audit to them. A real gateway started from a file (reloaded as SIGHUP
 * does), a real OpenID provider, a real MCP client whose calls make the events.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGateway } from '../../src/cli/start-gateway.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { withMasterKey } from '../helpers/gateway.js';
import { setEnv } from '../helpers/approvals.js';
import { CONSOLE_SECRET, CONSOLE_SECRET_ENV, consoleConfig, signInWithFetch } from '../helpers/console.js';
import { startOidcProvider } from '../helpers/oidc.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { tempDir } from '../helpers/e2e.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const tmp = tempDir('warden-attack-console-tail-');
after(() => tmp.remove());

test('a live tail stops when a reload takes its person out of console.roles: no event reaches them after', async () => {
  const restore = setEnv(CONSOLE_SECRET_ENV, CONSOLE_SECRET);
  const op = await startOidcProvider('https://unused.example/mcp');
  const file = join(tmp.dir, 'warden.yaml');
  const servers = { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: join(tmp.dir, 'upstream.log') }) };
  const base = withMasterKey(tmp.dir, { listen: '127.0.0.1:0', store: join(tmp.dir, 'tail.db'), auth: { mode: 'none' }, policy: { files: [POLICY] }, mcpServers: servers, log: { level: 'error' } });
  writeFileSync(file, stringify({ ...base, console: consoleConfig(op) }));
  const loaded = loadConfig(file);
  const running = await startGateway(loaded.config, loaded.baseDir, createLogger('silent'), file);
  const client = new Client({ name: 'attack-console-tail', version: '0' });
  const ac = new AbortController();
  try {
    const at = new URL(running.url).origin;
    await client.connect(new StreamableHTTPClientTransport(new URL(running.url)));
    const bob = await signInWithFetch(at, 'bob');
    const res = await fetch(`${at}/console/audit/stream`, { headers: { cookie: bob.header() }, signal: ac.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    let ended = false;
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return void (ended = true);
        text += Buffer.from(value!).toString();
      }
    })();
    const until = async (cond: () => boolean, ms = 15_000) => {
      const end = Date.now() + ms;
      while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      return cond();
    };
    await client.callTool({ name: 'before-marker', arguments: {} }).catch(() => undefined);
    assert.ok(await until(() => text.includes('before-marker')), `bob's tail works while he has the role: ${text}`);

    // Bob is taken out of every role list and the config is reloaded (what SIGHUP does).
    const cfg = consoleConfig(op) as { roles: Record<string, string[]> };
    writeFileSync(file, stringify({ ...base, console: { ...cfg, roles: { ...cfg.roles, approver: [] } } }));
    const report = await running.reload();
    assert.ok(report.ok, JSON.stringify(report));
    assert.equal((await fetch(`${at}/console/audit`, { redirect: 'manual', headers: { cookie: bob.header() } })).status, 403, 'a new request is refused');

    await client.callTool({ name: 'after-marker-secret-op', arguments: {} }).catch(() => undefined);
    // The tail polls every second: a few polls' margin for the event to be read, had it been sent.
    assert.ok(await until(() => ended, 8_000), 'the tail is closed once bob has no role');
    assert.doesNotMatch(text, /after-marker-secret-op/, 'no event recorded after the reload reached bob');
    ac.abort();
    await pump;
  } finally {
    ac.abort();
    await client.close().catch(() => undefined);
    await running.close();
    await op.close();
    restore();
  }
});
