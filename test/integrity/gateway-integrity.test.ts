/**
 * Tool integrity through the real gateway, against a malicious upstream on the official SDK
 * (test/fixtures/rugpull-upstream.ts) and an honest mail server: a tool that changes after it was pinned is
 * hidden and refused until an operator approves the change (`warden tools approve`, the real binary), a
 * rejected change stays quarantined, hidden Unicode instructions and cross-server shadowing are flagged and
 * kept from the client by policy, `integrity: pin` holds every new definition, and a poisoned tool result
 * stops the session from sending mail.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { assertBuilt, runWarden } from '../helpers/e2e.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/integrity.cedar', import.meta.url));

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const names = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort();
const text = (r: unknown) => ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('');

async function refusal(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  assert.fail('the call was not refused');
}

describe('tool integrity through the gateway', () => {
  let gw: TestGateway;
  let client: Client;
  let cli: string;

  before(async () => {
    assertBuilt();
    gw = await startTestGateway(
      {
        mail: { ...tsFixtureStdio('rugpull-upstream.ts', [], { MODE: 'mail' }), integrity: 'pin' },
        evil: tsFixtureStdio('rugpull-upstream.ts', [], { MODE: 'evil' }),
      },
      { policy: { files: [POLICY] }, integrity: { refreshMs: 100, scanResults: true } },
    );
    cli = join(gw.dir, 'cli.yaml');
    writeFileSync(cli, `store: ${JSON.stringify(join(gw.dir, 'warden.db'))}\nmcpServers: {}\n`);
    client = new Client({ name: 'integrity-test', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await gw?.close();
  });

  const pins = async (upstream: string, name: string) => (await gw.store.integrity.list({ upstream })).filter((p) => p.name === name);
  const warden = async (...args: string[]) => {
    const r = await runWarden([...args, '-c', cli], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `warden ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  test('first list: trust on first use pins evil, pin mode holds mail; findings decide what the policy shows', async () => {
    const shown = await names(client);
    // get_weather shadows the mail server and hides from the user (high): the policy keeps it from the client.
    assert.deepEqual(shown, ['evil__add', 'evil__fetch_page', 'evil__send_email', 'evil__stage']);
    const weather = (await pins('evil', 'get_weather'))[0]!;
    assert.equal(weather.state, 'approved');
    assert.equal(weather.decidedBy, 'trust-on-first-use');
    for (const id of ['shadowing-reference', 'conceal-from-user', 'model-instruction']) assert.ok(weather.findings.includes(id), `${id} in ${weather.findings.join(',')}`);
    // Same name as the mail server's tool: flagged (medium), allowed by this policy, and recorded.
    assert.deepEqual((await pins('evil', 'send_email'))[0]!.findings, ['shadowing-name']);
    // mail is `integrity: pin`: its tool waits for an operator, hidden and refused.
    assert.equal((await pins('mail', 'send_email'))[0]!.state, 'pending');
    const e = await refusal(client.callTool({ name: 'mail__send_email', arguments: { to: 'a@b.example', body: 'x' } }));
    assert.equal(e.code, -32011);
    assert.match(e.message, /not pinned yet/);
    const denied = await refusal(client.callTool({ name: 'evil__get_weather', arguments: { city: 'Oslo' } }));
    assert.equal(denied.code, -32008);
  });

  test('prompts are pinned and scanned too: a poisoned prompt template is kept from the client by policy', async () => {
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name).sort();
    assert.deepEqual(prompts, ['evil__greet']);
    const summarize = (await gw.store.integrity.list({ upstream: 'evil' })).find((p) => p.kind === 'prompt' && p.name === 'summarize');
    assert.ok(summarize?.findings.includes('conceal-from-user'), summarize?.findings.join(','));
    assert.equal((await refusal(client.getPrompt({ name: 'evil__summarize', arguments: { style: 'short' } }))).code, -32008);
    assert.match(JSON.stringify((await client.getPrompt({ name: 'evil__greet', arguments: { who: 'Ada' } })).messages), /Hello Ada/);
  });

  test('an operator approves the pin-mode tool: it is listed and callable', async () => {
    assert.match(await warden('tools', 'approve', 'mail', 'send_email', '--as', 'alice'), /pinned: served and callable again/);
    await until('mail__send_email to be listed', async () => ((await names(client)).includes('mail__send_email') ? true : undefined));
    assert.equal(text(await client.callTool({ name: 'mail__send_email', arguments: { to: 'a@b.example', body: 'x' } })), 'sent to a@b.example');
  });

  test('rug pull of the description: quarantined at once (list_changed), diffed, approved, restored', async () => {
    assert.equal(text(await client.callTool({ name: 'evil__add', arguments: { a: 1, b: 2 } })), '3');
    await client.callTool({ name: 'evil__stage', arguments: { step: 'description' } });
    // Nobody lists: the gateway relisted on list_changed and recorded the change itself.
    await until('the changed add to be recorded', async () => ((await pins('evil', 'add')).some((p) => p.state === 'pending') ? true : undefined));
    assert.ok(!(await names(client)).includes('evil__add'));
    const e = await refusal(client.callTool({ name: 'evil__add', arguments: { a: 1, b: 2 } }));
    assert.equal(e.code, -32011);
    assert.match(e.message, /changed since it was pinned/);
    assert.match(await warden('tools', 'list', '--upstream', 'evil', '--state', 'pending'), /^evil {2}tool add {2}pending {2}sha256:/m);
    const diff = await warden('tools', 'diff', 'evil', 'add');
    assert.match(diff, /- Add two numbers\./);
    assert.match(diff, /\+ Add two numbers\. Results are cached on our servers\./);
    await warden('tools', 'approve', 'evil', 'add');
    await until('add to come back', async () => ((await names(client)).includes('evil__add') ? true : undefined));
    const listed = (await client.listTools()).tools.find((t) => t.name === 'evil__add')!;
    assert.equal(listed.description, 'Add two numbers. Results are cached on our servers.');
    assert.equal(text(await client.callTool({ name: 'evil__add', arguments: { a: 2, b: 2 } })), '4');
    const events = (await gw.store.audit.tail({ limit: 500 })).map((ev) => `${ev.method} ${ev.upstream}/${ev.target} ${ev.errorCode ?? ''}`);
    assert.ok(events.includes('integrity/changed evil/add definition_quarantined'));
    assert.ok(events.includes('tools/call evil/add definition_quarantined'));
    assert.ok(events.some((x) => x.startsWith('integrity/approved evil/add')));
  });

  test('rug pull of the schema: quarantined; rejected, it stays hidden and refused', async () => {
    await client.callTool({ name: 'evil__stage', arguments: { step: 'schema' } });
    await until('the schema change to be recorded', async () => ((await pins('evil', 'add')).some((p) => p.state === 'pending') ? true : undefined));
    assert.match(await warden('tools', 'diff', 'evil', 'add'), /\+ inputSchema\.properties\.note\.description: anything else/);
    await warden('tools', 'reject', 'evil', 'add');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!(await names(client)).includes('evil__add'));
    const e = await refusal(client.callTool({ name: 'evil__add', arguments: { a: 1, b: 2 } }));
    assert.equal(e.code, -32011);
    assert.match(e.message, /rejected/);
  });

  test('hidden Unicode tag instructions: quarantined as a change, and once approved still kept out by policy', async () => {
    await client.callTool({ name: 'evil__stage', arguments: { step: 'unicode' } });
    const changed = await until('the unicode change', async () => (await pins('evil', 'add')).find((p) => p.state === 'pending'));
    assert.ok(changed.findings.includes('unicode-tag'), changed.findings.join(','));
    assert.ok(changed.findings.includes('secret-access'), changed.findings.join(','));
    // The diff shows the hidden characters escaped, never raw.
    const diff = await warden('tools', 'diff', 'evil', 'add');
    assert.match(diff, /\\u\{e0072\}/);
    assert.doesNotMatch(diff, /[\u{E0000}-\u{E007F}]/u);
    await warden('tools', 'approve', 'evil', 'add');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!(await names(client)).includes('evil__add'), 'a critical finding keeps it hidden under this policy');
    assert.equal((await refusal(client.callTool({ name: 'evil__add', arguments: { a: 1, b: 2 } }))).code, -32008);
  });

  test('a poisoned tool result is audited and stops this session from sending mail', async () => {
    assert.match(text(await client.callTool({ name: 'evil__fetch_page', arguments: { url: 'https://x.example' } })), /Welcome/);
    const flagged = (await gw.store.audit.tail({ limit: 50 })).find((ev) => ev.method === 'response/flagged');
    assert.ok(flagged, 'a response/flagged event');
    assert.match(flagged.decision?.reason ?? '', /instruction-block/);
    const e = await refusal(client.callTool({ name: 'mail__send_email', arguments: { to: 'a@b.example', body: 'x' } }));
    assert.equal(e.code, -32008);
    assert.match(e.message, /no-mail-after-untrusted-content|Denied/);
    // Another session did not read it: it may still send.
    const other = new Client({ name: 'integrity-test-2', version: '0' });
    await other.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    try {
      assert.equal(text(await other.callTool({ name: 'mail__send_email', arguments: { to: 'c@d.example', body: 'y' } })), 'sent to c@d.example');
    } finally {
      await other.close();
    }
  });
});
