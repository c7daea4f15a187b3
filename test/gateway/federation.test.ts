/**
 * Federation of several upstreams behind one gateway session: prefixed names, untouched tool objects,
 * routing of calls, prompts, resources and completions to the upstream that owns them, and the naming options.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { everythingStdio, tsFixtureStdio } from '../helpers/servers.js';

const NAME_RULE = /^[a-zA-Z0-9_-]{1,64}$/;
type Item = Record<string, unknown>;
interface StdioSpec { command: string; args: string[]; env?: Record<string, string>; cwd?: string }

const confSpec = (): StdioSpec => tsFixtureStdio('conformance-upstream.ts', ['--stdio']);

/** Sends a request on a raw session and returns its result, failing the test on a JSON-RPC error. */
async function call(s: RawSession, method: string, params?: Record<string, unknown>): Promise<Item> {
  const { res, message } = await s.request(method, params);
  assert.equal(res.status, 200, `${method}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(message.result, `${method} failed: ${JSON.stringify(message.error ?? message)}`);
  return message.result as Item;
}

async function callError(s: RawSession, method: string, params?: Record<string, unknown>): Promise<{ code: number; message: string }> {
  const { message } = await s.request(method, params);
  assert.ok(message.error, `${method} should fail, got ${JSON.stringify(message.result)}`);
  return message.error as { code: number; message: string };
}

const texts = (result: Item): string => ((result.content as Item[]) ?? []).map((c) => String(c.text ?? '')).join('\n');
const names = (items: unknown): string[] => (items as Item[]).map((t) => String(t.name));

async function session(gw: TestGateway): Promise<RawSession> {
  const s = new RawSession(gw.url);
  const init = await s.initialize();
  assert.equal(init.status, 200, init.text);
  assert.ok(s.sessionId, 'initialize returns a session id');
  return s;
}

/** A direct SDK client to one upstream, to compare what the gateway shows with what the upstream sends. */
async function direct(spec: StdioSpec): Promise<Client> {
  const client = new Client({ name: 'direct', version: '0' }, { capabilities: {} });
  await client.connect(
    new StdioClientTransport({ command: spec.command, args: spec.args, env: { ...getDefaultEnvironment(), ...spec.env }, cwd: spec.cwd, stderr: 'ignore' }),
  );
  return client;
}

/** Lists one kind through the SDK without its typed schema, so fields it does not know survive. */
async function rawList(client: Client, method: string, key: string): Promise<Item[]> {
  const r = (await client.request({ method, params: {} } as never, ResultSchema)) as Item;
  return r[key] as Item[];
}

describe('two upstreams (conf, every) with the default naming', () => {
  let gw: TestGateway;
  let s: RawSession;
  const up: Record<string, Client> = {};
  let tools: Item[];

  before(async () => {
    gw = await startTestGateway({ conf: confSpec(), every: everythingStdio() });
    const [sess, conf, every] = await Promise.all([session(gw), direct(confSpec()), direct(everythingStdio())]);
    s = sess;
    up.conf = conf;
    up.every = every;
    tools = (await call(s, 'tools/list')).tools as Item[];
  });
  after(async () => {
    await Promise.all(Object.values(up).map((c) => c.close().catch(() => undefined)));
    await gw?.close();
  });

  test('tools/list prefixes every name with its server, and every name is a valid LLM tool name', () => {
    const n = names(tools);
    for (const expected of ['conf__test_simple_text', 'conf__test_sampling', 'every__echo', 'every__get-sum', 'every__trigger-long-running-operation']) {
      assert.ok(n.includes(expected), `${expected} missing from ${n.join(', ')}`);
    }
    for (const name of n) {
      assert.match(name, NAME_RULE);
      assert.ok(name.startsWith('conf__') || name.startsWith('every__'), `unprefixed name ${name}`);
    }
    assert.equal(new Set(n).size, n.length, 'names are unique');
  });

  test('each tool object keeps every field its upstream sent, only the name changes', async () => {
    for (const server of ['conf', 'every']) {
      const upstreamTools = await rawList(up[server]!, 'tools/list', 'tools');
      assert.ok(upstreamTools.length > 0);
      for (const original of upstreamTools) {
        const exposed = tools.find((t) => t.name === `${server}__${String(original.name)}`);
        assert.ok(exposed, `${server}/${String(original.name)} is not exposed`);
        assert.deepEqual(exposed, { ...original, name: `${server}__${String(original.name)}` });
      }
    }
    const echo = tools.find((t) => t.name === 'every__echo')!;
    assert.deepEqual(echo.annotations, { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false });
    assert.equal(echo.description, 'Echoes back the input string');
    assert.equal(echo.title, 'Echo Tool');
    assert.deepEqual((echo.inputSchema as Item).required, ['message']);
    const schema2020 = tools.find((t) => t.name === 'conf__json_schema_2020_12_tool')!.inputSchema as Item;
    assert.equal(schema2020.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.ok(schema2020.$defs, '$defs survive');
  });

  test('calls go to the upstream that owns the tool', async () => {
    assert.equal(texts(await call(s, 'tools/call', { name: 'conf__test_simple_text', arguments: {} })), 'This is a simple text response for testing.');
    assert.equal(texts(await call(s, 'tools/call', { name: 'every__echo', arguments: { message: 'hello' } })), 'Echo: hello');
    assert.match(texts(await call(s, 'tools/call', { name: 'every__get-sum', arguments: { a: 2, b: 3 } })), /\b5\b/);
    const err = (await call(s, 'tools/call', { name: 'conf__test_error_handling', arguments: {} })) as Item;
    assert.equal(err.isError, true, 'a tool error result passes through as a result');
  });

  test('an unprefixed or unknown name is refused, not guessed', async () => {
    assert.equal((await callError(s, 'tools/call', { name: 'echo', arguments: { message: 'x' } })).code, -32602);
    assert.equal((await callError(s, 'tools/call', { name: 'every__nope', arguments: {} })).code, -32602);
  });

  test('prompts are prefixed and prompts/get reaches the right upstream', async () => {
    const prompts = (await call(s, 'prompts/list')).prompts as Item[];
    const n = names(prompts);
    for (const expected of ['conf__test_simple_prompt', 'conf__test_prompt_with_arguments', 'every__simple-prompt', 'every__args-prompt']) {
      assert.ok(n.includes(expected), `${expected} missing from ${n.join(', ')}`);
    }
    for (const name of n) assert.match(name, NAME_RULE);
    const upstreamArgs = (await rawList(up.conf!, 'prompts/list', 'prompts')).find((p) => p.name === 'test_prompt_with_arguments');
    assert.deepEqual(prompts.find((p) => p.name === 'conf__test_prompt_with_arguments'), { ...upstreamArgs, name: 'conf__test_prompt_with_arguments' });

    const got = await call(s, 'prompts/get', { name: 'conf__test_prompt_with_arguments', arguments: { arg1: 'one', arg2: 'two' } });
    const first = (got.messages as Item[])[0]!.content as Item;
    assert.equal(first.text, "Prompt with arguments: arg1='one', arg2='two'");
    const simple = await call(s, 'prompts/get', { name: 'every__simple-prompt' });
    assert.ok((simple.messages as Item[]).length > 0);
    assert.equal((await callError(s, 'prompts/get', { name: 'test_simple_prompt' })).code, -32602);
  });

  test('resources keep their URIs, and reads route for listed resources and template-produced URIs', async () => {
    const resources = (await call(s, 'resources/list')).resources as Item[];
    const upstreamUris = [...(await rawList(up.conf!, 'resources/list', 'resources')), ...(await rawList(up.every!, 'resources/list', 'resources'))].map((r) => r.uri);
    assert.deepEqual(resources.map((r) => r.uri).sort(), [...upstreamUris].sort(), 'the same URIs, unprefixed');
    const staticText = resources.find((r) => r.uri === 'test://static-text');
    assert.deepEqual(staticText, (await rawList(up.conf!, 'resources/list', 'resources')).find((r) => r.uri === 'test://static-text'));

    const templates = (await call(s, 'resources/templates/list')).resourceTemplates as Item[];
    assert.ok(templates.some((t) => t.uriTemplate === 'test://template/{id}/data'));
    assert.ok(templates.some((t) => String(t.uriTemplate).startsWith('demo://resource/dynamic/')));

    const read = await call(s, 'resources/read', { uri: 'test://static-text' });
    assert.equal((read.contents as Item[])[0]!.text, 'This is the content of the static text resource.');
    const everyUri = String(resources.find((r) => String(r.uri).startsWith('demo://'))?.uri);
    const everyRead = await call(s, 'resources/read', { uri: everyUri });
    assert.equal((everyRead.contents as Item[])[0]!.uri, everyUri);

    const fromTemplate = await call(s, 'resources/read', { uri: 'test://template/123/data' });
    const content = (fromTemplate.contents as Item[])[0]!;
    assert.equal(content.uri, 'test://template/123/data');
    assert.deepEqual(JSON.parse(String(content.text)), { id: '123', templateTest: true, data: 'Data for ID: 123' });
    const dynamic = await call(s, 'resources/read', { uri: 'demo://resource/dynamic/text/7' });
    assert.equal((dynamic.contents as Item[])[0]!.uri, 'demo://resource/dynamic/text/7');
  });

  test('completion/complete on a prefixed prompt reaches its upstream with the original name', async () => {
    const r = await call(s, 'completion/complete', { ref: { type: 'ref/prompt', name: 'conf__test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'pa' } });
    assert.deepEqual((r.completion as Item).values, ['paris', 'park', 'party']);
    const e = await call(s, 'completion/complete', { ref: { type: 'ref/prompt', name: 'every__completable-prompt' }, argument: { name: 'department', value: 'E' } });
    assert.deepEqual((e.completion as Item).values, ['Engineering']);
  });
});

describe('naming options', () => {
  const gateways: TestGateway[] = [];
  after(async () => {
    await Promise.all(gateways.map((g) => g.close()));
  });
  async function listFrom(mcpServers: Record<string, unknown>, naming?: Record<string, unknown>): Promise<{ gw: TestGateway; s: RawSession; tools: Item[] }> {
    const gw = await startTestGateway(mcpServers, naming ? { naming } : {});
    gateways.push(gw);
    const s = await session(gw);
    return { gw, s, tools: (await call(s, 'tools/list')).tools as Item[] };
  }

  test('one upstream with prefix auto keeps the upstream names', async () => {
    const { s, tools } = await listFrom({ every: everythingStdio() });
    const n = names(tools);
    assert.ok(n.includes('echo') && n.includes('get-sum'), n.join(', '));
    assert.ok(!n.some((x) => x.startsWith('every__')));
    assert.equal(texts(await call(s, 'tools/call', { name: 'echo', arguments: { message: 'solo' } })), 'Echo: solo');
  });

  test('prefix never keeps names with two upstreams', async () => {
    const { s, tools } = await listFrom({ conf: confSpec(), every: everythingStdio() }, { prefix: 'never' });
    const n = names(tools);
    assert.ok(n.includes('test_simple_text') && n.includes('echo'), n.join(', '));
    assert.ok(!n.some((x) => x.startsWith('conf__') || x.startsWith('every__')));
    assert.equal(texts(await call(s, 'tools/call', { name: 'echo', arguments: { message: 'n' } })), 'Echo: n');
    assert.equal(texts(await call(s, 'tools/call', { name: 'test_simple_text', arguments: {} })), 'This is a simple text response for testing.');
  });

  test('prefix always prefixes a lone upstream', async () => {
    const { s, tools } = await listFrom({ every: everythingStdio() }, { prefix: 'always' });
    const n = names(tools);
    assert.ok(n.includes('every__echo'), n.join(', '));
    assert.ok(n.every((x) => x.startsWith('every__')));
    assert.equal(texts(await call(s, 'tools/call', { name: 'every__echo', arguments: { message: 'a' } })), 'Echo: a');
  });

  test('a custom separator is used between server and name', async () => {
    const { s, tools } = await listFrom({ conf: confSpec(), every: everythingStdio() }, { separator: '-x-' });
    const n = names(tools);
    assert.ok(n.includes('conf-x-test_simple_text') && n.includes('every-x-echo'), n.join(', '));
    for (const name of n) assert.match(name, NAME_RULE);
    assert.equal(texts(await call(s, 'tools/call', { name: 'every-x-echo', arguments: { message: 'sep' } })), 'Echo: sep');
    const prompts = names((await call(s, 'prompts/list')).prompts);
    assert.ok(prompts.includes('conf-x-test_simple_prompt'), prompts.join(', '));
  });

  test('a name over 64 characters is shortened deterministically and still calls the right tool', async () => {
    const server = 'a'.repeat(60);
    const { gw, s, tools } = await listFrom({ [server]: everythingStdio() }, { prefix: 'always' });
    for (const name of names(tools)) assert.match(name, NAME_RULE);
    assert.equal(new Set(names(tools)).size, tools.length, 'shortened names stay unique');
    // `<server>__echo` is 66 characters: find the tool by its description, which passes through untouched.
    const echo = tools.find((t) => t.description === 'Echoes back the input string');
    assert.ok(echo, 'echo is listed');
    const echoName = String(echo.name);
    assert.ok(echoName.length <= 64);
    assert.notEqual(echoName, `${server}__echo`);
    assert.equal(texts(await call(s, 'tools/call', { name: echoName, arguments: { message: 'long' } })), 'Echo: long');
    const sum = tools.find((t) => String(t.description).toLowerCase().includes('sum'));
    assert.ok(sum, 'get-sum is listed');
    assert.match(texts(await call(s, 'tools/call', { name: String(sum.name), arguments: { a: 4, b: 5 } })), /\b9\b/);

    const again = await session(gw);
    const againTools = (await call(again, 'tools/list')).tools as Item[];
    assert.deepEqual(names(againTools), names(tools), 'the same shortened names in a second session');
    assert.equal(texts(await call(again, 'tools/call', { name: echoName, arguments: { message: 'again' } })), 'Echo: again');
  });
});
