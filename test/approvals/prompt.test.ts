/**
 * In-protocol approval prompts (approvals.prompt: url) on an in-process gateway with a recording upstream.
 * 2025-11-25: a session that declared URL elicitation gets an elicitation/create with the approval page's
 * link while its call is held; approving completes the call once and sends notifications/elicitation/complete;
 * a declined prompt ends the hold and nothing reaches the upstream; a client without the capability is held
 * as before, with no prompt. 2026-07-28: the first try is answered at once with an input-required result
 * (the link, and an HMAC-protected requestState); the retry with the state runs once approved; an altered
 * state, a state for other arguments, and a declined prompt are refused, and a consumed approval never
 * authorises again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitationCompleteNotificationSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { recorded } from '../helpers/auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawPost, RawSession, type RawResponse } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { nextPending, recordedCalls, setEnv } from '../helpers/approvals.js';
import { RequestStateCodec } from '../../src/approvals/request-state.js';
import { validateConfig } from '../../src/config/index.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const ENV = 'WARDEN_TEST_APPROVAL_PAGE_SECRET';
const SECRET = 'approval-page-secret-for-tests-0123456789abcdef';
const MODERN = '2026-07-28';
let restoreEnv: () => void = () => {};
const recDir = mkdtempSync(join(tmpdir(), 'warden-prompt-'));
const record = join(recDir, 'upstream.log');
let gw: TestGateway;

type Item = Record<string, unknown>;

before(async () => {
  restoreEnv = setEnv(ENV, SECRET);
  gw = await startTestGateway(
    // Annotations are not trusted, so `echo` counts as destructive; unset environment counts as prod.
    { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: record }) },
    {
      policy: { files: [POLICY] },
      approvals: {
        approvers: ['alice'],
        // Long enough that "ended at once" and "ended by the hold" stay apart on a busy machine.
        holdSeconds: 5,
        prompt: 'url',
        page: { secretEnv: ENV, signIn: { issuer: 'http://127.0.0.1:9/idp', clientId: 'warden-approvals' } },
      },
    },
  );
});

after(async () => {
  await gw?.close();
  rmSync(recDir, { recursive: true, force: true });
  restoreEnv();
});

const calls = (message: string) => recordedCalls(record, message);
const pageOf = (id: string) => `${new URL(gw.url).origin}/approvals/${id}`;

const pending = (seen: string[] = []) => nextPending(gw.store.approvals, seen);

describe('2025-11-25 sessions: URL elicitation while the call is held', () => {
  async function client(answer: 'accept' | 'decline' | 'cancel') {
    const c = new Client({ name: 'prompt-test', version: '0' }, { capabilities: { elicitation: { url: {} } } });
    const asked: Item[] = [];
    const completed: string[] = [];
    c.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push(req.params as Item);
      return { action: answer };
    });
    c.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.push(n.params.elicitationId));
    await c.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    return { c, asked, completed };
  }

  test('the client is asked to open the approval page; once approved the call runs once and the prompt is completed', async () => {
    const { c, asked, completed } = await client('accept');
    try {
      const held = c.callTool({ name: 'echo', arguments: { message: 'prompt-legacy-1' } }, undefined, { timeout: 30_000 });
      const id = await pending();
      for (let i = 0; i < 100 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(asked.length, 1, 'one prompt');
      const p = asked[0]!;
      assert.equal(p.mode, 'url');
      assert.equal(p.url, pageOf(id), 'the link is the request\'s approval page');
      assert.match(String(p.message), /echo/);
      assert.equal(typeof p.elicitationId, 'string');
      assert.equal(calls('prompt-legacy-1').length, 0, 'nothing reaches the upstream while held');
      await gw.approvals!.decide(id, 'alice', 'approved', 'ok');
      const result = (await held) as { content: { text: string }[] };
      assert.equal(result.content[0]?.text, 'prompt-legacy-1');
      assert.equal(calls('prompt-legacy-1').length, 1, 'the upstream saw exactly one call');
      for (let i = 0; i < 50 && completed.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(completed, [p.elicitationId], 'the completion names the prompt');
    } finally {
      await c.close();
    }
  });

  test('a declined prompt ends the hold at once; nothing reaches the upstream, and the request stays open for approvers', async () => {
    const { c } = await client('decline');
    try {
      const started = Date.now();
      const err = await c.callTool({ name: 'echo', arguments: { message: 'prompt-legacy-2' } }).then(
        () => assert.fail('the call should not run'),
        (e: { code: number; message: string; data?: Item }) => e,
      );
      assert.equal(err.data?.reason, 'approval_declined', err.message);
      assert.ok(Date.now() - started < 4000, 'before the 5 s hold ends');
      assert.equal(calls('prompt-legacy-2').length, 0);
      const r = await gw.store.approvals.get(String(err.data?.approvalId));
      assert.equal(r?.state, 'pending');
    } finally {
      await c.close();
    }
  });

  test('a client that did not declare URL elicitation is held without a prompt', async () => {
    const s = new RawSession(gw.url);
    await s.initialize({ elicitation: {} }); // form mode only
    const { res, message } = await s.request('tools/call', { name: 'echo', arguments: { message: 'prompt-legacy-3' } });
    assert.ok(!res.messages.some((m) => m.method === 'elicitation/create'), 'no prompt was sent');
    assert.equal((message.error as { data: Item }).data.reason, 'approval_pending');
    assert.equal(calls('prompt-legacy-3').length, 0);
  });
});

describe('2026-07-28 requests: input-required results', () => {
  let nextId = 1;
  const call = (args: Item, extra: Item = {}, caps: Item = { elicitation: { url: {} } }): Promise<RawResponse> =>
    rawPost(
      gw.url,
      {
        jsonrpc: '2.0',
        id: nextId++,
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: args,
          ...extra,
          _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'mrtr-test', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': caps },
        },
      },
      { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
    );
  const one = (r: RawResponse): Item => {
    assert.equal(r.messages.length, 1, r.text.slice(0, 500));
    return r.messages[0]!;
  };
  const inputRequired = (r: RawResponse) => {
    const m = one(r);
    const result = m.result as Item;
    assert.equal(result?.resultType, 'input_required', JSON.stringify(m));
    const prompt = (result.inputRequests as Record<string, { method: string; params: Item }>).approval!;
    return { prompt, state: String(result.requestState) };
  };
  const reasonOf = (r: RawResponse) => ((one(r).error as { data?: Item })?.data?.reason ?? 'none') as string;

  test('the first try answers at once with the link; the retry with the state runs once approved', async () => {
    const started = Date.now();
    const first = inputRequired(await call({ message: 'mrtr-1' }));
    assert.ok(Date.now() - started < 4000, 'not held (the hold is 5 s)');
    assert.equal(first.prompt.method, 'elicitation/create');
    assert.equal(first.prompt.params.mode, 'url');
    assert.equal(first.prompt.params.elicitationId, undefined, '2026-07-28 prompts carry no elicitationId');
    const id = await pending();
    assert.equal(first.prompt.params.url, pageOf(id));
    assert.equal(calls('mrtr-1').length, 0);

    const audit = await gw.store.audit.tail({ limit: 5 });
    const event = audit.filter((e) => e.method === 'tools/call' && e.outcome !== 'intent').at(-1)!;
    assert.equal(event.approvalId, id);
    assert.equal(event.outcome, 'denied');
    assert.equal(event.errorCode, 'approval_pending');

    await gw.approvals!.decide(id, 'alice', 'approved', null);
    const done = one(await call({ message: 'mrtr-1' }, { requestState: first.state, inputResponses: { approval: { action: 'accept' } } }));
    assert.equal((done.result as { content: { text: string }[] }).content[0]?.text, 'mrtr-1', JSON.stringify(done));
    assert.equal(calls('mrtr-1').length, 1, 'the upstream saw exactly one call');
    assert.ok(!recorded(record).some((l) => l.includes('requestState') || l.includes('inputResponses')), 'the input fields stay at the gateway');

    // The approval was consumed: the same state again is not let through; it is asked for anew, with a new link.
    const again = inputRequired(await call({ message: 'mrtr-1' }, { requestState: first.state, inputResponses: { approval: { action: 'accept' } } }));
    const next = await pending([id]);
    assert.equal(again.prompt.params.url, pageOf(next));
    assert.notEqual(again.state, first.state);
    assert.equal(calls('mrtr-1').length, 1);

    // Denied: the retry with its state is refused at once, and never runs.
    await gw.approvals!.decide(next, 'alice', 'denied', 'not twice');
    const refused = await call({ message: 'mrtr-1' }, { requestState: again.state });
    assert.equal(reasonOf(refused), 'approval_denied');
    assert.equal(calls('mrtr-1').length, 1);
  });

  test('an altered state, a state for other arguments, and a declined prompt are refused before anything runs', async () => {
    const first = inputRequired(await call({ message: 'mrtr-2' }));
    const id = await pending();
    await gw.approvals!.decide(id, 'alice', 'approved', null);
    const [body, tag] = first.state.split('.');
    const forged = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), e: 4_102_444_800 })).toString('base64url')}.${tag}`;
    for (const state of [forged, `${body}.${'A'.repeat(43)}`, 'not-a-state', first.state + 'x']) {
      const r = one(await call({ message: 'mrtr-2' }, { requestState: state }));
      assert.equal((r.error as { code: number }).code, -32602, `${state}: ${JSON.stringify(r)}`);
    }
    const other = one(await call({ message: 'mrtr-2-other' }, { requestState: first.state }));
    assert.match((other.error as { message: string }).message, /another call/);
    const declined = await call({ message: 'mrtr-2' }, { requestState: first.state, inputResponses: { approval: { action: 'decline' } } });
    assert.equal(reasonOf(declined), 'approval_declined');
    assert.equal(calls('mrtr-2').length, 0, 'nothing reached the upstream');
    // The approval is still there for the call it was given for.
    const done = one(await call({ message: 'mrtr-2' }, { requestState: first.state }));
    assert.equal((done.result as { content: { text: string }[] }).content[0]?.text, 'mrtr-2');
  });

  test('a request that does not declare URL elicitation is held as before, with no prompt', async () => {
    const r = await call({ message: 'mrtr-3' }, {}, {});
    assert.equal(reasonOf(r), 'approval_pending');
    assert.equal(calls('mrtr-3').length, 0);
  });
});

describe('the prompt settings', () => {
  test('prompt: url needs the page it links to; the page secret must be long enough', () => {
    assert.throws(() => validateConfig({ auth: { mode: 'none' }, mcpServers: {}, approvals: { approvers: ['alice'], prompt: 'url' } }, 'x.yaml'), /approvals\.prompt.*needs approvals\.page/);
    assert.throws(() => new RequestStateCodec('too-short'), /at least 32 bytes/);
  });

  test('a requestState is refused once expired, and under another key', () => {
    let now = Date.parse('2026-11-22T10:00:00Z');
    const codec = new RequestStateCodec(SECRET, () => now);
    const sealed = codec.seal({ approvalId: 'a-1', digest: 'd'.repeat(64), exp: now / 1000 + 60 });
    assert.deepEqual(codec.open(sealed), { approvalId: 'a-1', digest: 'd'.repeat(64), exp: now / 1000 + 60 });
    assert.equal(new RequestStateCodec(`${SECRET}-other-replica-config`).open(sealed), undefined, 'another secret');
    now += 61_000;
    assert.equal(codec.open(sealed), undefined, 'expired');
  });
});
