/**
 * The upstream connection pool (share modes), with real principals (signed JWTs), real stdio upstreams and
 * official SDK clients: how many processes sessions start, which connection a principal's call uses, and
 * that a connection shared by several principals never hands one principal's relayed traffic to another.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema, type CallToolResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { effectiveShare } from '../../src/gateway/connections.js';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { childPids, cmdline, tempDir, waitFor } from '../helpers/e2e.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const CALL = { timeout: 20_000 };
const text = (r: unknown): string => ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** Distinct pids that received a line containing `needle` (the recording upstream prefixes each line with its pid). */
function pidsFor(file: string, needle = ''): Set<string> {
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    return new Set();
  }
  return new Set(lines.filter((l) => l.includes(needle) && l.trim() !== '').map((l) => l.split(' ')[0]!));
}

interface Connected {
  client: Client;
  prompts: string[];
  logs: unknown[];
}

describe('upstream connections shared by share mode', () => {
  const tmp = tempDir('warden-share-');
  let gw: AuthGateway;
  let idp: TestIssuer;
  const clients: Client[] = [];
  const shared = join(tmp.dir, 'shared.log');
  const perUser = join(tmp.dir, 'per-user.log');
  const perSession = join(tmp.dir, 'per-session.log');

  before(async () => {
    idp = await createTestIssuer(tmp.dir);
    for (const f of [shared, perUser, perSession]) writeFileSync(f, '');
    gw = await startAuthGateway(
      {
        shared: { ...tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: shared }), share: 'shared' },
        mine: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: perUser }),
        own: { ...tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: perSession }), share: 'per-session' },
        conf: { ...tsFixtureStdio('conformance-upstream.ts', ['--stdio']), share: 'shared' },
      },
      { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, limits: { callTimeoutMs: 15_000 } },
    );
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw?.close();
    tmp.remove();
  });

  async function connect(user: string, capabilities: Record<string, unknown> = {}, sampling?: (prompt: string) => Promise<string>): Promise<Connected> {
    const token = await idp.sign({ aud: gw.publicUrl, sub: user, client_id: 'share-agent' });
    const client = new Client({ name: 'share-test', version: '0' }, { capabilities });
    const prompts: string[] = [];
    const logs: unknown[] = [];
    if (sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
        const content = req.params.messages[0]!.content;
        const prompt = !Array.isArray(content) && content.type === 'text' ? content.text : '';
        prompts.push(prompt);
        return { model: 'm', role: 'assistant', content: { type: 'text', text: await sampling(prompt) } };
      });
    }
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return { client, prompts, logs };
  }

  test('no upstream starts at initialize: processes start on first use', async () => {
    const c = await connect('early');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(pidsFor(shared).size + pidsFor(perUser).size + pidsFor(perSession).size, 0, 'an upstream was started by initialize');
    await c.client.close();
  });

  test('20 sessions of two users: a shared upstream runs 1 process, per-user 2, per-session 20', async () => {
    const sessions = await Promise.all(Array.from({ length: 20 }, (_, i) => connect(i % 2 === 0 ? 'alice' : 'bob')));
    await Promise.all(
      sessions.map(async (s, i) => {
        const who = i % 2 === 0 ? 'alice' : 'bob';
        for (const name of ['shared__echo', 'mine__echo', 'own__echo']) {
          const r = await s.client.callTool({ name, arguments: { message: `${who}-${i}` } }, undefined, CALL);
          assert.equal(text(r), `${who}-${i}`);
        }
      }),
    );
    assert.equal(pidsFor(shared).size, 1, 'share: shared started more than one process');
    assert.equal(pidsFor(perUser).size, 2, 'the default (per-user) did not start one process per user');
    assert.equal(pidsFor(perSession).size, 20);
    // Per-user: every one of alice's calls reached one process and bob's another; never each other's.
    const alicePids = pidsFor(perUser, '"alice-');
    const bobPids = pidsFor(perUser, '"bob-');
    assert.equal(alicePids.size, 1);
    assert.equal(bobPids.size, 1);
    assert.notDeepEqual([...alicePids], [...bobPids], "bob's call used alice's connection");
    // The pool counts what runs: 1 shared + 2 per-user + 20 per-session processes.
    assert.equal(gw.gateway.pool.stats.processes, 23);
    await Promise.all(sessions.map((s) => s.client.close()));
  });

  test('per-user credentials never go to a shared connection; leases force one per task', () => {
    const base = { command: 'x', args: [], env: {} };
    assert.equal(effectiveShare({ ...base, share: 'shared' }), 'shared');
    assert.equal(effectiveShare({ ...base, share: 'shared', userSecrets: { alice: { TOKEN: 'alice-token' } } }), 'per-user');
    assert.equal(effectiveShare({ ...base, share: 'shared', env: { T: '${lease:db}' } }), 'per-task');
    assert.equal(effectiveShare(base), 'per-user');
  });

  test("a shared connection: each principal's progress reaches only that principal, even with equal client tokens", async () => {
    const [alice, bob] = await Promise.all([connect('alice-p'), connect('bob-p')]);
    const got: Record<string, Progress[]> = { alice: [], bob: [] };
    await Promise.all(
      (['alice', 'bob'] as const).map((who, i) =>
        [alice, bob][i]!.client.callTool({ name: 'conf__test_tool_with_progress', arguments: {} }, undefined, { ...CALL, onprogress: (p) => got[who]!.push(p) }),
      ),
    );
    assert.deepEqual(got.alice!.map((p) => p.progress), [0, 50, 100]);
    assert.deepEqual(got.bob!.map((p) => p.progress), [0, 50, 100]);
  });

  test('a shared connection: log lines no single request caused are dropped, never shown to the other principal', async () => {
    const [alice, bob] = await Promise.all([connect('alice-l'), connect('bob-l')]);
    await Promise.all([alice, bob].map((c) => c.client.callTool({ name: 'conf__test_tool_with_logging', arguments: {} }, undefined, CALL)));
    // Each ran once and sent three lines: a client holding more than three got the other's.
    assert.ok(alice.logs.length <= 3 && bob.logs.length <= 3, `alice ${alice.logs.length}, bob ${bob.logs.length}`);
    // Alone on the connection, a caller gets all of its own.
    alice.logs.length = 0;
    await alice.client.callTool({ name: 'conf__test_tool_with_logging', arguments: {} }, undefined, CALL);
    assert.equal(alice.logs.length, 3);
  });

  test("a shared connection: a sampling request goes to the caller that caused it, never to another principal", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const alice = await connect('alice-s', { sampling: {} }, async (p) => `alice-answer to ${p}`);
    const bob = await connect('bob-s', { sampling: {} }, async (p) => {
      await gate;
      return `bob-answer to ${p}`;
    });
    // Bob's sampling request arrives while only bob is calling: it is his.
    const bobCall = bob.client.callTool({ name: 'conf__test_sampling', arguments: { prompt: 'bob-secret-prompt' } }, undefined, CALL);
    for (let i = 0; i < 100 && bob.prompts.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(bob.prompts, ['bob-secret-prompt']);
    // Alice calls while bob's call is still in flight: her request cannot be told apart on a stdio connection,
    // so it is refused rather than risk showing it to bob.
    const aliceCall = await alice.client.callTool({ name: 'conf__test_sampling', arguments: { prompt: 'alice-secret-prompt' } }, undefined, CALL).catch((e: Error) => e);
    release();
    const bobResult = await bobCall;
    assert.match(text(bobResult), /bob-answer to bob-secret-prompt/);
    assert.ok(!bob.prompts.includes('alice-secret-prompt'), "alice's sampling prompt reached bob");
    assert.ok(!alice.prompts.includes('bob-secret-prompt'), "bob's sampling prompt reached alice");
    assert.ok(aliceCall instanceof Error || !/LLM response: bob/.test(text(aliceCall)));
    // Alone again, alice's own sampling works on the shared connection.
    const alone = await alice.client.callTool({ name: 'conf__test_sampling', arguments: { prompt: 'alice-again' } }, undefined, CALL);
    assert.equal(text(alone), 'LLM response: alice-answer to alice-again');
  });
});

describe('limits.maxProcesses and upstreamIdleMs', () => {
  let gw: TestGateway;
  const tmp = tempDir('warden-cap-');
  const calls = join(tmp.dir, 'calls.log');
  const running = (): number => childPids(process.pid).filter((p) => cmdline(p).includes('misbehaving-upstream')).length;

  before(async () => {
    gw = await startTestGateway(
      { slow: { ...tsFixtureStdio('misbehaving-upstream.ts', [], { MISBEHAVE_CALL_LOG: calls }), share: 'per-session', timeoutMs: 15_000 } },
      { limits: { maxProcesses: 1, upstreamIdleMs: 1_500 } },
    );
  });
  after(async () => {
    await gw?.close();
    tmp.remove();
  });

  const call = async (s: RawSession, name: string, args: Record<string, unknown> = {}) => (await s.request('tools/call', { name, arguments: args })).message;

  test('at the cap an idle process makes room; when every one is busy the call is refused with process_limit; idle ones exit', async () => {
    const a = new RawSession(gw.url);
    const b = new RawSession(gw.url);
    await a.initialize();
    await b.initialize();
    assert.equal(running(), 0, 'nothing starts at initialize');
    assert.deepEqual((await call(a, 'echo', { message: 'a' })).result, { content: [{ type: 'text', text: 'a' }] });
    assert.equal(running(), 1);
    // a's process is idle (a connection used in the last second is not): b's first call closes it to make room.
    await new Promise((r) => setTimeout(r, 1_200));
    assert.ok((await call(b, 'echo', { message: 'b' })).result);
    assert.ok(await waitFor(() => running() === 1, 5_000), `${running()} processes at a cap of 1`);
    // a's call hangs in its (new) process; b's process was idle and made room for it.
    await new Promise((r) => setTimeout(r, 1_200));
    const hanging = call(a, 'hang');
    assert.ok(await waitFor(() => existsSync(calls) && readFileSync(calls, 'utf8').includes(' hang'), 15_000), 'the hanging call never reached its upstream');
    const refused = await b.request('tools/call', { name: 'echo', arguments: { message: 'b2' } });
    assert.equal(refused.res.status, 503, JSON.stringify(refused.message));
    assert.ok(refused.res.headers.get('retry-after'));
    assert.equal((refused.message.error as { code: number; data: { reason: string } }).code, -32017);
    assert.equal((refused.message.error as { data: { reason: string } }).data.reason, 'process_limit');
    assert.equal(running(), 1, 'the cap held');
    assert.ok((await hanging).error, 'the hanging call ends with its timeout');
    // Unused for upstreamIdleMs: the process exits; the next call starts one again.
    assert.ok(await waitFor(() => running() === 0 && gw.gateway.pool.stats.processes === 0, 10_000), `${running()} processes still running`);
    assert.ok((await call(b, 'echo', { message: 'again' })).result);
  });
});
