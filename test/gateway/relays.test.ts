/**
 * Server-to-client traffic relayed through the gateway to an official SDK client: sampling, elicitation and
 * roots requests, progress and logging notifications, cancellation, and the isolation of relays between sessions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  type CallToolResult,
  type ClientCapabilities,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { everythingStdio, tsFixtureStdio } from '../helpers/servers.js';

const CALL_TIMEOUT = { timeout: 15_000 };

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

const FULL: ClientCapabilities = { sampling: {}, elicitation: {}, roots: {} };
const text = (r: unknown): string => ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('relays through the gateway', () => {
  let gw: TestGateway;
  const clients: Client[] = [];

  // Sessions are opened up front and in parallel: each one starts its own upstream processes.
  let main: Connected;
  let bare: Connected;
  let a: Connected;
  let b: Connected;
  // The A and B handlers wait until both sampling requests have arrived, so the two relays are in flight at once.
  let arrivedA!: () => void;
  let arrivedB!: () => void;
  const both = Promise.all([new Promise<void>((r) => (arrivedA = r)), new Promise<void>((r) => (arrivedB = r))]);
  const barrier = (arrived: () => void) => async () => {
    arrived();
    await within(both, 10_000, 'both sampling requests to arrive');
  };

  before(async () => {
    gw = await startTestGateway({ conf: tsFixtureStdio('conformance-upstream.ts', ['--stdio']), every: everythingStdio() }, { limits: { callTimeoutMs: 15_000 } });
    [main, bare, a, b] = await Promise.all([
      connect(FULL, { sampling: 'SAMPLED-ANSWER' }),
      connect({}),
      connect(FULL, { sampling: 'answer-from-A', onSampling: barrier(() => arrivedA()) }),
      connect(FULL, { sampling: 'answer-from-B', onSampling: barrier(() => arrivedB()) }),
    ]);
    // Warm the upstream connections of every session before timing anything.
    await Promise.all([main, bare, a, b].map((c) => c.client.listTools()));
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw?.close();
  });

  interface Connected {
    client: Client;
    seen: string[];
    logs: unknown[];
  }
  interface Answers {
    sampling?: string;
    onSampling?: () => Promise<void>;
  }

  /** An SDK client with the given capabilities and handlers for every relayed request. */
  async function connect(capabilities: ClientCapabilities, answers: Answers = {}): Promise<Connected> {
    const client = new Client({ name: 'relay-test', version: '0' }, { capabilities });
    const seen: string[] = [];
    const logs: unknown[] = [];
    if (capabilities.sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
        seen.push(req.method);
        await answers.onSampling?.();
        // Content may be one block or (since 2025-11-25) an array of blocks.
        const blocks = req.params.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [m.content]));
        const prompt = blocks.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
        return { model: 'test-model', role: 'assistant', content: { type: 'text', text: `${answers.sampling ?? 'sampled'} <- ${prompt}` } };
      });
    }
    if (capabilities.elicitation) {
      client.setRequestHandler(ElicitRequestSchema, async (req) => {
        seen.push(req.method);
        return { action: 'accept', content: { username: 'alice', email: 'alice@example.com' } };
      });
    }
    if (capabilities.roots) {
      client.setRequestHandler(ListRootsRequestSchema, async (req) => {
        seen.push(req.method);
        return { roots: [{ uri: 'file:///tmp/relay-root', name: 'relay-root' }] };
      });
    }
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params.data);
    });
    await within(client.connect(new StreamableHTTPClientTransport(new URL(gw.url))), 10_000, 'connect');
    clients.push(client);
    return { client, seen, logs };
  }


  test('sampling: the tool gets the client answer back in its result', async () => {
    const { client, seen } = main;
    const r = await client.callTool({ name: 'conf__test_sampling', arguments: { prompt: 'What is 2+2?' } }, undefined, CALL_TIMEOUT);
    assert.equal(r.isError, undefined, text(r));
    assert.equal(text(r), 'LLM response: SAMPLED-ANSWER <- What is 2+2?');
    const every = await client.callTool({ name: 'every__trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } }, undefined, CALL_TIMEOUT);
    assert.match(text(every), /SAMPLED-ANSWER <- Resource trigger-sampling-request context: hi/);
    assert.equal(seen.filter((m) => m === 'sampling/createMessage').length, 2);
  });

  test('elicitation: the tool gets the user answer', async () => {
    const { client, seen } = main;
    const r = await client.callTool({ name: 'conf__test_elicitation', arguments: { message: 'Who are you?' } }, undefined, CALL_TIMEOUT);
    assert.equal(text(r), 'Elicitation completed: action=accept, content={"username":"alice","email":"alice@example.com"}');
    assert.ok(seen.includes('elicitation/create'));
  });

  test('roots are the operator\'s: a client\'s roots are never asked for or passed on (none configured here)', async () => {
    const { client, seen } = main;
    const { tools } = await client.listTools();
    assert.ok(!tools.some((t) => t.name === 'every__get-roots-list'), 'the upstream was told of no roots capability');
    assert.ok(!seen.includes('roots/list'), 'the client was never asked for its roots');
  });

  test('progress notifications reach onprogress with increasing progress', async () => {
    const { client } = main;
    const conf: Progress[] = [];
    const r = await client.callTool({ name: 'conf__test_tool_with_progress', arguments: {} }, undefined, { ...CALL_TIMEOUT, onprogress: (p) => conf.push(p) });
    assert.equal(text(r), 'Tool with progress executed successfully');
    assert.deepEqual(conf.map((p) => p.progress), [0, 50, 100]);
    assert.ok(conf.every((p) => p.total === 100));

    const every: Progress[] = [];
    const long = await client.callTool(
      { name: 'every__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { ...CALL_TIMEOUT, onprogress: (p) => every.push(p) },
    );
    assert.match(text(long), /Long running operation completed/);
    assert.deepEqual(every.map((p) => p.progress), [1, 2, 3]);
  });

  test('logging notifications at the requested level reach the client', async () => {
    const { client, logs } = main;
    await client.setLoggingLevel('debug');
    const r = await client.callTool({ name: 'conf__test_tool_with_logging', arguments: {} }, undefined, CALL_TIMEOUT);
    assert.equal(text(r), 'Tool with logging executed successfully');
    for (let i = 0; i < 50 && logs.length < 3; i++) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(logs.filter((l) => typeof l === 'string' && l.startsWith('Tool ')), ['Tool execution started', 'Tool processing data', 'Tool execution completed']);

    await client.setLoggingLevel('error');
    const quiet = await client.callTool({ name: 'conf__test_tool_with_logging', arguments: {} }, undefined, CALL_TIMEOUT);
    assert.equal(text(quiet), 'Tool with logging executed successfully');
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(logs.filter((l) => typeof l === 'string' && l.startsWith('Tool ')).length, 3, 'info messages are not sent above error level');
  });

  test('a client without sampling gets an error from the sampling tool, and the gateway stays up', async () => {
    const { client } = bare;
    const r = await client.callTool({ name: 'conf__test_sampling', arguments: { prompt: 'x' } }, undefined, CALL_TIMEOUT);
    assert.equal(r.isError, true);
    assert.match(text(r), /does not support sampling/);
    const tools = await client.listTools();
    assert.ok(!tools.tools.some((t) => t.name === 'every__trigger-sampling-request'), 'capability-gated tools are hidden from a client that lacks the capability');
    await assert.rejects(client.callTool({ name: 'every__trigger-sampling-request', arguments: { prompt: 'x' } }, undefined, CALL_TIMEOUT));
    const echo = await client.callTool({ name: 'every__echo', arguments: { message: 'still up' } }, undefined, CALL_TIMEOUT);
    assert.equal(text(echo), 'Echo: still up');
  });

  test('cancellation: an aborted call rejects on the client and the next call works', async () => {
    const { client } = main;
    const abort = new AbortController();
    const progress: Progress[] = [];
    const started = Date.now();
    const pending = client.callTool({ name: 'every__trigger-long-running-operation', arguments: { duration: 10, steps: 20 } }, undefined, {
      ...CALL_TIMEOUT,
      signal: abort.signal,
      onprogress: (p) => {
        progress.push(p);
        if (p.progress >= 1) abort.abort('user cancelled');
      },
    });
    await assert.rejects(within(pending, 8_000, 'aborted call to reject'));
    assert.ok(Date.now() - started < 5_000, 'the abort did not wait for the operation');
    assert.ok(progress.length >= 1);

    const echo = await client.callTool({ name: 'every__echo', arguments: { message: 'after cancel' } }, undefined, CALL_TIMEOUT);
    assert.equal(text(echo), 'Echo: after cancel');
    // The gateway recorded the cancelled call.
    let cancelled = false;
    for (let i = 0; i < 50 && !cancelled; i++) {
      const events = await gw.store.audit.tail({ limit: 20 });
      cancelled = events.some((e) => e.method === 'tools/call' && e.outcome !== 'intent' && e.target === 'trigger-long-running-operation' && e.outcome === 'cancelled');
      if (!cancelled) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(cancelled, 'an audit event with outcome cancelled');
  });

  test('two concurrent sessions each get their own sampling answer', async () => {
    const [ra, rb, rc, rd] = await Promise.all([
      a.client.callTool({ name: 'conf__test_sampling', arguments: { prompt: 'for A' } }, undefined, CALL_TIMEOUT),
      b.client.callTool({ name: 'conf__test_sampling', arguments: { prompt: 'for B' } }, undefined, CALL_TIMEOUT),
      a.client.callTool({ name: 'every__trigger-sampling-request', arguments: { prompt: 'for A' } }, undefined, CALL_TIMEOUT),
      b.client.callTool({ name: 'every__trigger-sampling-request', arguments: { prompt: 'for B' } }, undefined, CALL_TIMEOUT),
    ]);
    assert.equal(text(ra), 'LLM response: answer-from-A <- for A');
    assert.equal(text(rb), 'LLM response: answer-from-B <- for B');
    assert.match(text(rc), /answer-from-A/);
    assert.doesNotMatch(text(rc), /answer-from-B/);
    assert.match(text(rd), /answer-from-B/);
    assert.doesNotMatch(text(rd), /answer-from-A/);
    assert.equal(a.seen.filter((m) => m === 'sampling/createMessage').length, 2);
    assert.equal(b.seen.filter((m) => m === 'sampling/createMessage').length, 2);
  });
});
