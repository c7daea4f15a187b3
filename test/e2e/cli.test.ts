/**
 * The real binary (`node bin/warden.js serve`) in front of real reference servers (everything, filesystem,
 * memory over stdio), driven by the official SDK client; then a clean stop, the audit log read back through
 * `warden audit tail`, and bad configs refused at start.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { canonicalJson } from '../../src/audit/digest.js';
import { assertBuilt, childPids, cmdline, connectClient, devConfig, isAlive, resultText, runWarden, startWarden, tempDir, waitFor, writeConfig, type RunningWarden } from '../helpers/e2e.js';
import { everythingStdio, filesystemStdio, memoryStdio } from '../helpers/servers.js';

interface AuditJson {
  id: string;
  time: string;
  method: string;
  upstream: string | null;
  target: string | null;
  argsDigest: string | null;
  outcome: string;
  errorCode: string | null;
  sessionId: string | null;
  latencyMs: number;
}

const sha256 = (args: unknown) => 'sha256:' + createHash('sha256').update(canonicalJson(args)).digest('hex');

describe('warden serve: the real binary in front of everything, filesystem and memory', () => {
  const tmp = tempDir();
  const data = join(tmp.dir, 'data');
  const memoryFile = join(tmp.dir, 'memory.jsonl');
  const secret = `e2e-secret-${randomBytes(8).toString('hex')}`;
  const fileText = `file body ${secret}\n`;
  const filePath = join(data, 'written.txt');
  const calls: Array<{ upstream: string; target: string; args: Record<string, unknown> }> = [];
  let configFile = '';
  let warden: RunningWarden | undefined;
  let client: Client | undefined;
  let upstreamPids: number[] = [];

  before(async () => {
    assertBuilt();
    mkdirSync(data);
    configFile = writeConfig(tmp.dir, devConfig({ everything: everythingStdio(), files: filesystemStdio(data), memory: memoryStdio(memoryFile) }));
    warden = await startWarden(configFile);
    client = await connectClient(warden.url);
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    if (warden && upstreamPids.length === 0 && warden.child.exitCode === null) upstreamPids = childPids(warden.child.pid!);
    await warden?.stop(5_000);
    // If the gateway did not clean up (or was killed), its detached upstreams would outlive the test: end them.
    for (const pid of upstreamPids) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    tmp.remove();
  });

  const call = async (upstream: string, target: string, args: Record<string, unknown>) => {
    calls.push({ upstream, target, args });
    return client!.callTool({ name: `${upstream}__${target}`, arguments: args });
  };

  test('tools/list federates every upstream as <server>__<tool> with LLM-safe names', async () => {
    const { tools } = await client!.listTools();
    const names = tools.map((t) => t.name);
    for (const expected of ['everything__echo', 'everything__get-sum', 'files__read_text_file', 'files__write_file', 'files__list_directory', 'memory__read_graph', 'memory__create_entities']) {
      assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
    }
    for (const name of names) assert.match(name, /^[a-zA-Z0-9_-]{1,64}$/);
    assert.equal(new Set(names).size, names.length, 'tool names are unique');
    for (const server of ['everything', 'files', 'memory']) assert.ok(names.some((n) => n.startsWith(`${server}__`)), `no tools from ${server}`);
    assert.ok(names.every((n) => /^(everything|files|memory)__/.test(n)), 'every tool carries its server prefix');
  });

  test('calls reach the upstreams: echo, a file written and read back, the memory graph', async () => {
    assert.equal(resultText(await call('everything', 'echo', { message: `hi ${secret}` })), `Echo: hi ${secret}`);
    assert.equal(resultText(await call('everything', 'get-sum', { a: 2, b: 3 })), 'The sum of 2 and 3 is 5.');

    const written = await call('files', 'write_file', { path: filePath, content: fileText });
    assert.notEqual(written.isError, true, resultText(written));
    assert.ok(existsSync(filePath), 'the file exists on disk');
    assert.equal(readFileSync(filePath, 'utf8'), fileText);
    assert.equal(resultText(await call('files', 'read_text_file', { path: filePath })), fileText);

    const created = await call('memory', 'create_entities', { entities: [{ name: 'warden-e2e', entityType: 'test', observations: [secret] }] });
    assert.notEqual(created.isError, true, resultText(created));
    const graph = resultText(await call('memory', 'read_graph', {}));
    assert.match(graph, /warden-e2e/);
    assert.ok(existsSync(memoryFile), 'the memory server wrote its file');
  });

  test('an unknown tool is refused', async () => {
    await assert.rejects(client!.callTool({ name: 'nosuch__tool', arguments: {} }), /Unknown tool/);
  });

  test('SIGTERM: the gateway exits 0 and its stdio upstreams are gone', async () => {
    const gatewayPid = warden!.child.pid!;
    upstreamPids = childPids(gatewayPid);
    assert.equal(upstreamPids.length, 3, `expected 3 upstream children, found ${upstreamPids.map((p) => `${p}: ${cmdline(p)}`).join('; ')}`);
    for (const pid of upstreamPids) assert.match(cmdline(pid), /server-(everything|filesystem|memory)/);

    await client!.close();
    client = undefined;
    const exit = await warden!.stop(10_000);
    assert.equal(exit.killed, false, `gateway ignored SIGTERM for 10 s; stderr:\n${warden!.stderr()}`);
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, warden!.stderr());
    const gone = await waitFor(() => upstreamPids.every((p) => !isAlive(p)), 5_000);
    assert.ok(gone, `upstreams still running after the gateway exited: ${upstreamPids.filter(isAlive).map((p) => `${p}: ${cmdline(p)}`).join('; ')}`);
  });

  test('audit tail --json: one event per line, tools/call with upstream, target, outcome and a digest, never the values', async () => {
    const r = await runWarden(['audit', 'tail', '--json', '--config', configFile, '-n', '100']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l.length > 0);
    const events = lines.map((l) => JSON.parse(l) as AuditJson);
    assert.ok(events.some((e) => e.method === 'initialize'), 'the initialize is recorded');
    assert.ok(events.some((e) => e.method === 'tools/list' && e.outcome === 'ok'), 'the tools/list is recorded');

    const toolCalls = events.filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    for (const c of calls) {
      const e = toolCalls.find((t) => t.upstream === c.upstream && t.target === c.target && t.argsDigest === sha256(c.args));
      assert.ok(e, `no audit event for ${c.upstream}/${c.target} with the digest of its arguments in:\n${lines.join('\n')}`);
      assert.equal(e.outcome, 'ok');
      assert.equal(e.errorCode, null);
      assert.match(e.argsDigest!, /^sha256:[0-9a-f]{64}$/);
      assert.match(e.id, /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(e.time)), `time ${e.time}`);
      assert.equal(typeof e.latencyMs, 'number');
    }
    const refused = toolCalls.find((e) => e.outcome !== 'ok');
    assert.ok(refused, 'the refused unknown tool is recorded');
    assert.equal(refused.errorCode, 'unknown_tool');
    assert.equal(refused.target, 'nosuch__tool', 'the name asked for is recorded, so probing shows');

    assert.ok(!r.stdout.includes(secret), 'the audit log must not contain argument values');
    assert.ok(!r.stdout.includes('warden-e2e'), 'the audit log must not contain argument values');
    assert.ok(!r.stdout.includes(filePath), 'the audit log must not contain argument values (the path)');
  });

  test('audit tail without --json prints a table: a header, then one row per event with agent and user, in time order', async () => {
    const r = await runWarden(['audit', 'tail', '--config', configFile, '-n', '50']);
    assert.equal(r.code, 0, r.stderr);
    const [header, ...lines] = r.stdout.split('\n').filter((l) => l.length > 0);
    assert.match(header!, /^TIME\s+METHOD\s+AGENT\s+USER\s+TARGET\s+OUTCOME\s+LATENCY\s+SESSION\s+DECISION$/);
    assert.ok(lines.length >= calls.length + 2, r.stdout);
    for (const l of lines) {
      assert.match(l, /^\d{4}-\d\d-\d\dT\S+Z\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\d+\.\d ms\s+\S+(\s+\S.*)?$/, `not a table row: ${l}`);
      assert.throws(() => JSON.parse(l));
    }
    const times = lines.map((l) => l.slice(0, 24));
    assert.deepEqual(times, [...times].sort(), 'oldest first, in time order');
    assert.ok(lines.some((l) => /tools\/call\s+anonymous\s+-\s+files\/write_file\s+ok\s/.test(l)), r.stdout);
    assert.ok(lines.some((l) => /tools\/call\s+anonymous\s+-\s+everything\/echo\s+ok\s/.test(l)), r.stdout);
    assert.ok(lines.some((l) => /tools\/call\s+anonymous\s+-\s+nosuch__tool\s+error\(unknown_tool\)/.test(l)), r.stdout);
    assert.ok(!r.stdout.includes(secret));

    const limited = await runWarden(['audit', 'tail', '--config', configFile, '-n', '2']);
    assert.equal(limited.code, 0, limited.stderr);
    assert.equal(limited.stdout.split('\n').filter((l) => l.length > 0).length, 3, 'the header and two rows');
  });
});

describe('warden serve: a bad config fails at start, naming the file and the path', () => {
  const tmp = tempDir();
  before(() => assertBuilt());
  after(() => tmp.remove());

  /** Runs serve on a config and expects it to refuse: non-zero exit, no listener, the message on stderr. */
  const refuse = async (name: string, text: string | null) => {
    const file = text === null ? join(tmp.dir, name) : writeConfig(tmp.dir, text, name);
    const r = await runWarden(['serve', '--config', file], { timeoutMs: 15_000 });
    assert.notEqual(r.code, 0, `serve accepted ${name}:\n${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stdout, /listening on/);
    return { file, message: r.stderr };
  };
  const servers = 'mcpServers:\n  one: { command: node, args: [-e, ""] }\n';

  test('an unknown top-level key (a typo) is an error', async () => {
    const { file, message } = await refuse('typo.yaml', `lissten: 127.0.0.1:0\nauth: { mode: none }\n${servers}`);
    assert.ok(message.includes(file), message);
    assert.match(message, /lissten/);
  });

  test('a server with neither command nor url', async () => {
    const { file, message } = await refuse('noserver.yaml', 'listen: 127.0.0.1:0\nauth: { mode: none }\nmcpServers:\n  broken: { args: [x] }\n');
    assert.ok(message.includes(file), message);
    assert.match(message, /mcpServers\.broken/);
    // DESIGN.md: "fails at start with the file, the path in it and what is wrong" - "Invalid input" says nothing.
    assert.match(message, /command|url/, `the message should say a server needs a command or a url: ${message}`);
  });

  test('missing auth is refused and the message says so', async () => {
    const { file, message } = await refuse('noauth.yaml', `listen: 127.0.0.1:0\n${servers}`);
    assert.match(message, /auth/);
    assert.ok(message.includes(file), `the message should name the config file ${file}: ${message}`);
  });

  test('auth mode none on a non-loopback listener is refused', async () => {
    const { file, message } = await refuse('exposed.yaml', `listen: 0.0.0.0:0\nauth: { mode: none }\n${servers}`);
    assert.match(message, /loopback/);
    assert.match(message, /listen/);
    assert.ok(message.includes(file), `the message should name the config file ${file}: ${message}`);
  });

  test('a YAML syntax error', async () => {
    const { file, message } = await refuse('syntax.yaml', 'listen: 127.0.0.1:0\nauth: { mode: none\nmcpServers: [\n');
    assert.ok(message.includes(file), message);
    assert.match(message, /line \d+/);
  });

  test('a JSON config with a type error names the path', async () => {
    const { file, message } = await refuse('bad.json', JSON.stringify({ listen: '127.0.0.1:0', auth: { mode: 'none' }, mcpServers: { one: { command: 'node', args: 'not-a-list' } } }));
    assert.ok(message.includes(file), message);
    assert.match(message, /mcpServers\.one/);
  });

  test('a missing file', async () => {
    const { file, message } = await refuse('does-not-exist.yaml', null);
    assert.ok(message.includes(file), message);
    assert.match(message, /ENOENT|not found|no such file/i);
  });
});
