/**
 * Attack on the console's live tail (server-sent events): a person opens the tail, then a config reload takes
 * them out of `console.roles`. Every other request is refused at once; the tail, opened while they had the
 * role, must not keep streaming the audit to them. A real gateway started from a file (reloaded as SIGHUP
 * does), a real OpenID provider, a real MCP client whose calls make the events.
 * And: a tool name holding bidi overrides and zero-width characters reaches the tail as visible escapes, as
 * it does on every server-rendered page (the script writes what it gets with textContent, which escapes
 * markup but shows a U+202E as what it does: reversed text).
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

/** Reads a server-sent event stream into `text` with one reader loop (a read is never abandoned). */
function readStream(res: Response): { text: () => string; ended: () => boolean; done: Promise<void> } {
  const reader = res.body!.getReader();
  let text = '';
  let ended = false;
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return void (ended = true);
      text += Buffer.from(value!).toString();
    }
  })();
  return { text: () => text, ended: () => ended, done };
}

async function until(cond: () => boolean, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

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
    const tail = readStream(res);
    await client.callTool({ name: 'before-marker', arguments: {} }).catch(() => undefined);
    assert.ok(await until(() => tail.text().includes('before-marker')), `bob's tail works while he has the role: ${tail.text()}`);

    // Bob is taken out of every role list and the config is reloaded (what SIGHUP does).
    const cfg = consoleConfig(op) as { roles: Record<string, string[]> };
    writeFileSync(file, stringify({ ...base, console: { ...cfg, roles: { ...cfg.roles, approver: [] } } }));
    const report = await running.reload();
    assert.ok(report.ok, JSON.stringify(report));
    assert.equal((await fetch(`${at}/console/audit`, { redirect: 'manual', headers: { cookie: bob.header() } })).status, 403, 'a new request is refused');

    await client.callTool({ name: 'after-marker-secret-op', arguments: {} }).catch(() => undefined);
    // The tail polls every second: a few polls' margin for the event to be read, had it been sent.
    assert.ok(await until(tail.ended, 8_000), 'the tail is closed once bob has no role');
    assert.doesNotMatch(tail.text(), /after-marker-secret-op/, 'no event recorded after the reload reached bob');
    ac.abort();
    await tail.done;
  } finally {
    ac.abort();
    await client.close().catch(() => undefined);
    await running.close();
    await op.close();
    restore();
  }
});

test('the tail shows bidi overrides and zero-width characters in agent-controlled fields as escapes', async () => {
  const restore = setEnv(CONSOLE_SECRET_ENV, CONSOLE_SECRET);
  const op = await startOidcProvider('https://unused.example/mcp');
  const servers = { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: join(tmp.dir, 'upstream2.log') }) };
  const config = withMasterKey(tmp.dir, { listen: '127.0.0.1:0', store: join(tmp.dir, 'bidi.db'), auth: { mode: 'none' }, policy: { files: [POLICY] }, mcpServers: servers, log: { level: 'error' }, console: consoleConfig(op) });
  const file = join(tmp.dir, 'bidi.yaml');
  writeFileSync(file, stringify(config));
  const loaded = loadConfig(file);
  const running = await startGateway(loaded.config, loaded.baseDir, createLogger('silent'), file);
  const client = new Client({ name: 'attack-console-bidi', version: '0' });
  const ac = new AbortController();
  try {
    const at = new URL(running.url).origin;
    await client.connect(new StreamableHTTPClientTransport(new URL(running.url)));
    const carol = await signInWithFetch(at, 'carol');
    const res = await fetch(`${at}/console/audit/stream`, { headers: { cookie: carol.header() }, signal: ac.signal });
    const tail = readStream(res);
    // Shown raw, U+202E makes "read_\u202Efdp.exe" read as "read_exe.pdf"; U+200B hides inside a name.
    const spoof = 'read_\u202Efdp.exe\u200Bbidi-marker\u0007';
    await client.callTool({ name: spoof, arguments: {} }).catch(() => undefined);
    assert.ok(await until(() => tail.text().includes('bidi-marker')), `the call reaches the tail: ${tail.text()}`);
    const sent = tail.text();
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    assert.doesNotMatch(sent, /[\u202e\u200b\u0007]/, 'no raw bidi, zero-width or control character is sent');
    assert.match(sent, /read_\\\\u202efdp\.exe\\\\u200bbidi-marker/, 'they are sent as visible escapes (JSON-encoded)');
    // The page itself shows the same event the same way.
    const page = await (await fetch(`${at}/console/audit`, { headers: { cookie: carol.header() } })).text();
    assert.match(page, /read_\\u202efdp\.exe\\u200bbidi-marker/);
    ac.abort();
    await tail.done;
  } finally {
    ac.abort();
    await client.close().catch(() => undefined);
    await running.close();
    await op.close();
    restore();
  }
});

test('one person opening the gateway-wide maximum of tails does not lock others out of the live tail', async () => {
  const restore = setEnv(CONSOLE_SECRET_ENV, CONSOLE_SECRET);
  const op = await startOidcProvider('https://unused.example/mcp');
  const config = withMasterKey(tmp.dir, { listen: '127.0.0.1:0', store: join(tmp.dir, 'many.db'), auth: { mode: 'none' }, policy: { files: [POLICY] }, mcpServers: {}, log: { level: 'error' }, console: consoleConfig(op) });
  const file = join(tmp.dir, 'many.yaml');
  writeFileSync(file, stringify(config));
  const loaded = loadConfig(file);
  const running = await startGateway(loaded.config, loaded.baseDir, createLogger('silent'), file);
  const ac = new AbortController();
  try {
    const at = new URL(running.url).origin;
    const bob = await signInWithFetch(at, 'bob');
    const carol = await signInWithFetch(at, 'carol');
    const open = (jar: typeof bob) => fetch(`${at}/console/audit/stream`, { headers: { cookie: jar.header() }, signal: ac.signal });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await open(bob);
      statuses.push(res.status);
      if (res.status !== 200) await res.text();
    }
    assert.ok(statuses.some((s) => s !== 200), `bob may not hold every tail: ${statuses.join(',')}`);
    const refused = (await Promise.all([open(bob)]))[0]!;
    assert.equal(refused.status, 429);
    assert.ok(refused.headers.get('retry-after'));
    await refused.text();
    const mine = await open(carol);
    assert.equal(mine.status, 200, 'carol still gets a live tail');
  } finally {
    ac.abort();
    await running.close();
    await op.close();
    restore();
  }
});
