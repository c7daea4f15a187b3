/**
 * The governance console in a real browser (Debian's Chromium driven by playwright-core) against a real
 * OpenID provider (oidc-provider: login and consent pages): each role signs in (by name and by group), a
 * person with no role is refused; an approver approves a held call from the queue and the call completes;
 * a viewer's forged POSTs (with a valid CSRF token) are refused; an admin revokes the agent on the Agents
 * page and its next call is refused; the workflow view of `warden demo`'s task shows every step; the replay
 * of a stricter policy lists the calls it would deny (the page and `warden policy replay`).
 * With WARDEN_UPDATE_SCREENSHOTS=1 it rewrites docs/console/*.png from the demo's data.
 *
 * Needs /usr/bin/chromium; without it the test skips, except under CI, where it fails.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium, type APIResponse, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { RunningGateway } from '../../src/cli/start-gateway.js';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { recordedCalls, setEnv } from '../helpers/approvals.js';
import { CHROMIUM, CHROMIUM_ARGS, CONSOLE_SECRET, CONSOLE_SECRET_ENV, consoleConfig, openAs, startDemoConsole } from '../helpers/console.js';
import { assertBuilt, runWarden, tempDir } from '../helpers/e2e.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const SHOTS = fileURLToPath(new URL('../../docs/console/', import.meta.url));

if (!existsSync(CHROMIUM) && !process.env.CI) {
  test('the console in a real browser', { skip: `${CHROMIUM} is not installed (apt-get install chromium): the browser test is skipped` }, () => {});
} else {
  const tmp = tempDir('warden-console-');
  const record = join(tmp.dir, 'upstream.log');
  const demoDir = join(tmp.dir, 'demo');
  const restore: Array<() => void> = [];
  let op: TestOidcProvider;
  let gw: AuthGateway;
  let demo: RunningGateway & { logs: () => string };
  let demoTask = '';
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    assertBuilt();
    restore.push(setEnv(CONSOLE_SECRET_ENV, CONSOLE_SECRET), setEnv('WARDEN_DEMO_REPORTS_CLIENT_SECRET', 'unused-after-the-demo'));
    op = await startOidcProvider('https://unused.example/mcp');
    gw = await startAuthGateway(
      // Annotations are not trusted, so `echo` counts as destructive: held for approval (approvals.cedar).
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: record }) },
      { policy: { files: [POLICY] }, approvals: { approvers: ['bob'], holdSeconds: 60 }, console: consoleConfig(op), log: { level: 'error' } },
    );
    // The demo's own story, in its own folder: its store is what the workflow view and the screenshots show.
    const r = await runWarden(['demo', '--dir', demoDir], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `warden demo: ${r.stdout}\n${r.stderr}`);
    demoTask = /trace --task (\S+)/.exec(r.stdout)?.[1] ?? '';
    assert.ok(demoTask, r.stdout);
    demo = await startDemoConsole(demoDir, op);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await demo?.close();
    await gw?.close();
    await op?.close();
    tmp.remove();
    for (const r of restore.reverse()) r();
  });

  const origin = () => new URL(gw.url).origin;
  const demoOrigin = () => new URL(demo.url).origin;

  /** A fresh browser (its own cookies) signed in to `base` as `user`, on `path`. */
  async function signedIn(user: string, path = '/console', base = origin()): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await openAs(page, op.issuer, `${base}${path}`, user);
    return page;
  }

  const agentClient = async (): Promise<Client> => {
    const client = new Client({ name: 'console-test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    return client;
  };

  let carol: Page;
  let bob: Page;
  let viewer: Page;

  test('each role signs in at the provider and gets its role; a person no list names is refused', async () => {
    carol = await signedIn('carol');
    assert.match((await carol.textContent('.who')) ?? '', /carol\s*\(admin\)/);
    bob = await signedIn('bob');
    assert.match((await bob.textContent('.who')) ?? '', /bob\s*\(approver\)/);
    viewer = await signedIn('audit-bot');
    assert.match((await viewer.textContent('.who')) ?? '', /audit-bot\s*\(viewer\)/, 'the auditors group makes a viewer');
    const lead = await signedIn('sec-lead');
    assert.match((await lead.textContent('.who')) ?? '', /sec-lead\s*\(admin\)/, 'the security group makes an admin');
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${origin()}/console`);
    await page.fill('input[name="login"]', 'mallory');
    await page.fill('input[name="password"]', 'any');
    await Promise.all([page.waitForLoadState(), page.click('button[type="submit"]')]);
    if (new URL(page.url()).origin === op.issuer) await Promise.all([page.waitForURL((u) => u.origin !== op.issuer), page.click('button[type="submit"]')]);
    assert.match((await page.textContent('main')) ?? '', /mallory has no console role/);
    assert.equal(await page.locator('nav').count(), 0, 'no navigation for a person without a role');
  });

  test('an approver approves a held call from the queue; the call completes once', async () => {
    const client = await agentClient();
    try {
      const held = client.callTool({ name: 'echo', arguments: { message: 'console-approve-1' } }, undefined, { timeout: 60_000 });
      let found = false;
      for (let i = 0; i < 200 && !found; i++) {
        await bob.goto(`${origin()}/console/approvals`);
        found = (await bob.locator('table a', { hasText: 'echo' }).count()) > 0;
        if (!found) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(found, 'the held call is in the queue');
      const shoot = (name: string) => (process.env.WARDEN_UPDATE_SCREENSHOTS === '1' ? bob.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }) : undefined);
      await shoot('approvals-queue');
      await Promise.all([bob.waitForLoadState(), bob.locator('table a', { hasText: 'echo' }).first().click()]);
      assert.match((await bob.textContent('pre.call')) ?? '', /console-approve-1/, 'the full call is shown');
      await shoot('approval-request');
      await bob.fill('#reason', 'change 88');
      await Promise.all([bob.waitForLoadState(), bob.click('button[value="approve"]')]);
      assert.match((await bob.textContent('main')) ?? '', /Approved by bob/);
      const result = (await held) as { content: { text: string }[] };
      assert.equal(result.content[0]?.text, 'console-approve-1');
      assert.equal(recordedCalls(record, 'console-approve-1').length, 1, 'the upstream saw the call once');
      const r = (await gw.store.approvals.list({ state: 'consumed' })).find((a) => a.decisionReason === 'change 88');
      assert.equal(r?.decidedBy, 'bob');
      const events = await gw.store.audit.tail({ limit: 200 });
      assert.ok(events.some((e) => e.method === 'approval/approve' && e.authMethod === 'oidc' && e.decision?.reason === 'approved by bob: change 88'), 'the decision is audited');
    } finally {
      await client.close();
    }
  });

  test("a viewer's forged POSTs are refused with 403 and audited; nothing changes", async () => {
    const csrf = await viewer.getAttribute('input[name="csrf"]', 'value');
    assert.ok(csrf, 'the viewer has a valid CSRF token (from the sign-out form)');
    const client = await agentClient();
    const held = client.callTool({ name: 'echo', arguments: { message: 'console-forged' } }, undefined, { timeout: 60_000 }).catch((e: Error) => e);
    let pending: string | undefined;
    for (let i = 0; i < 200 && !pending; i++) {
      pending = (await gw.store.approvals.list({ state: 'pending' }))[0]?.id;
      if (!pending) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(pending);
    const forged: Array<[string, Record<string, string>]> = [
      ['/console/agents/revoke', { agent: 'anonymous', reason: 'forged' }],
      [`/console/approvals/${pending}`, { decision: 'approve', reason: 'forged' }],
      ['/console/tasks/some-task/end', {}],
      ['/console/tasks/some-task/revoke', {}],
      ['/console/policies/replay', { candidate: '@id("x") forbid (principal, action, resource);', days: '7' }],
    ];
    for (const [path, form] of forged) {
      const res: APIResponse = await viewer.context().request.post(`${origin()}${path}`, { form: { csrf, ...form }, headers: { origin: origin() }, maxRedirects: 0 });
      assert.equal(res.status(), 403, `${path}: ${res.status()}`);
    }
    assert.equal((await gw.store.revocations.list()).length, 0, 'nothing was revoked');
    assert.equal((await gw.store.approvals.get(pending))?.state, 'pending', 'nothing was decided');
    const refused = (await gw.store.audit.tail({ limit: 500 })).filter((e) => e.method === 'console/action' && e.user === 'audit-bot' && e.errorCode === 'forbidden');
    assert.equal(refused.length, forged.length, 'each forged POST is an audit event');
    // bob denies it, so the held call ends.
    await bob.goto(`${origin()}/console/approvals/${pending}`);
    await Promise.all([bob.waitForLoadState(), bob.click('button[value="deny"]')]);
    assert.ok((await held) instanceof Error || JSON.stringify(await held).includes('denied'));
    await client.close();
  });

  test('the audit page tails new events live (the console script, server-sent events)', async () => {
    await carol.goto(`${origin()}/console/audit?agent=anonymous`);
    // Locators, not waitForFunction: the console's policy forbids evaluating strings (no 'unsafe-eval').
    await carol.locator('#tail-status', { hasText: /^Live/ }).waitFor({ timeout: 15_000 });
    const before = await carol.locator('#tail tbody tr').count();
    const client = await agentClient();
    try {
      await client.callTool({ name: 'tail-live-unknown', arguments: {} }).catch(() => undefined);
      for (let i = 0; i < 300 && (await carol.locator('#tail tbody tr').count()) <= before; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok((await carol.locator('#tail tbody tr').count()) > before, 'a row was added without reloading');
      assert.match((await carol.locator('#tail tbody tr').first().textContent()) ?? '', /anonymous.*tools\/call.*error/);
    } finally {
      await client.close();
    }
  });

  test('an admin revokes the agent on the Agents page; its next call is refused', async () => {
    const client = await agentClient();
    try {
      assert.ok(await client.listTools(), 'the agent works before');
      await carol.goto(`${origin()}/console/agents`);
      const row = carol.locator('form[aria-label="Revoke anonymous"]');
      await row.locator('input[name="reason"]').fill('leaked token');
      await Promise.all([carol.waitForLoadState(), row.locator('button').click()]);
      assert.match((await carol.textContent('main')) ?? '', /Agent anonymous is revoked by carol/);
      let refused = '';
      for (let i = 0; i < 40 && !refused; i++) {
        try {
          await client.callTool({ name: 'echo', arguments: { message: 'after-revoke' } }, undefined, { timeout: 10_000 });
          await new Promise((r) => setTimeout(r, 100));
        } catch (err) {
          refused = (err as Error).message;
        }
      }
      assert.match(refused, /revoked/i, 'the next call is refused');
      assert.equal(recordedCalls(record, 'after-revoke').length, 0, 'nothing reached the upstream');
      const ev = (await gw.store.audit.tail({ limit: 500 })).find((e) => e.method === 'revoke/agent');
      assert.equal(ev?.authMethod, 'oidc');
      assert.match(ev?.decision?.reason ?? '', /agent anonymous revoked by carol: leaked token/);
    } finally {
      await client.close().catch(() => undefined);
    }
  });

  test("the workflow view of the demo's task shows every step", async () => {
    const page = await signedIn('carol', `/console/audit/workflow?task=${demoTask}`, demoOrigin());
    const steps = await page.locator('ol.timeline > li').allTextContents();
    const all = steps.join('\n');
    for (const want of [/^Task .*alice -> agent spiffe:\/\/demo\.test\/planner/, /^Token issued/, /^Task started/, /^Delegation .*planner -> spiffe:\/\/demo\.test\/writer/, /^Lease issued/, /^Approval requested/, /^Approved/, /^Revocation/]) {
      assert.ok(steps.some((s) => want.test(s)), `a step ${want}: ${all}`);
    }
    assert.match(all, /files\/read_text_file\. Decision allow by read-tools-own-tenant/);
    assert.match(all, /reports\/weekly_figures\. Decision deny by reports-need-scope/);
    assert.match(all, /approve-destructive-in-prod/);
    assert.match(all, /approved by bob: figures checked/);
    assert.match(all, /Outcome denied \((revoked|task_inactive)\)/, "the call after the revocation");
    assert.match((await page.textContent('main')) ?? '', /State: revoked/);
    // Strict audit writes an intent before each forwarded call: the timeline folds it into the call's outcome.
    assert.doesNotMatch(all, /Outcome intent|Call, unfinished/, 'every demo call ended: no intent is shown as a step of its own');
  });

  test('the replay of a stricter policy lists the calls it would deny (page and CLI)', async () => {
    const page = await signedIn('carol', '/console/policies', demoOrigin());
    const current = await page.inputValue('#candidate');
    const stricter = `${current}\n@id("no-file-reads")\n@reason("file reads are closed")\nforbid (principal, action == Action::"call_tool", resource is Tool) when { resource.server == "files" };\n`;
    await page.fill('#candidate', stricter);
    await Promise.all([page.waitForLoadState(), page.click('form[aria-label="Replay a candidate policy set"] button')]);
    const rows = await page.locator('table tbody tr').allTextContents();
    assert.ok(rows.some((r) => r.includes('files__read_text_file') && /deny no-file-reads/.test(r)), rows.join('\n'));
    assert.ok(!rows.some((r) => r.includes('weekly_figures')), 'calls the candidate decides the same way are not listed');
    assert.match((await page.textContent('[role=status]')) ?? '', /[1-9]\d* of them to deny/);

    const dir = join(tmp.dir, 'candidate');
    mkdirSync(dir);
    // The demo's own policy files, and the stricter rule beside them.
    for (const f of readdirSync(join(demoDir, 'policies'))) writeFileSync(join(dir, f), readFileSync(join(demoDir, 'policies', f), 'utf8'));
    writeFileSync(join(dir, 'stricter.cedar'), stricter.slice(current.length));
    const cli = await runWarden(['policy', 'replay', '--since', '7d', dir, '-c', join(demoDir, 'warden.yaml')], { cwd: tmp.dir, timeoutMs: 60_000 });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /files__read_text_file: allow \(read-tools-own-tenant\) -> deny \(no-file-reads\): file reads are closed/);
    assert.match(cli.stdout, /decisions would change, [1-9]\d* to deny/);
  });

  test('clickjacking: a page of another origin cannot frame the console', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.setContent(`<iframe id="f" src="${demoOrigin()}/console/agents" width="800" height="600"></iframe>`);
    await page.waitForTimeout(1000);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    const inside = frame ? await frame.content().catch(() => '') : '';
    assert.doesNotMatch(inside, /warden console/, 'the framed console did not render');
  });

  test('screenshots of each page from the demo data (WARDEN_UPDATE_SCREENSHOTS=1 rewrites docs/console/)', async () => {
    const page = await signedIn('carol', '/console', demoOrigin());
    await page.setViewportSize({ width: 1280, height: 900 });
    const pages: Array<[string, string]> = [
      ['overview', '/console'],
      ['approvals', '/console/approvals'],
      ['audit', '/console/audit'],
      ['workflow', `/console/audit/workflow?task=${demoTask}`],
      ['audit-chain', '/console/audit/verify'],
      ['agents', '/console/agents'],
      ['tasks', '/console/tasks?state=all'],
      ['policies', '/console/policies'],
      ['upstreams', '/console/upstreams'],
      ['secrets', '/console/secrets'],
      ['posture', '/console/posture'],
    ];
    for (const [name, path] of pages) {
      const res = await page.goto(`${demoOrigin()}${path}`);
      assert.equal(res?.status(), 200, `${path}: ${res?.status()}`);
      // Every page: the strict policy, no framing, and keyboard access (a skip link, labelled forms).
      const csp = res?.headers()['content-security-policy'] ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.equal(await page.locator('a.skip[href="#main"]').count(), 1);
      const unlabelled = await page.evaluate('[...document.querySelectorAll("input:not([type=hidden]), textarea, select")].filter((el) => !el.labels || el.labels.length === 0).length');
      assert.equal(unlabelled, 0, `${path}: every field has a label`);
      if (process.env.WARDEN_UPDATE_SCREENSHOTS === '1') {
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
      }
    }
  });
}
