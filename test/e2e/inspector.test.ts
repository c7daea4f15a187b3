/**
 * Third-party clients through the real binary: `@modelcontextprotocol/inspector-cli` lists and calls the tools
 * of two upstreams (server-everything over stdio as `local`, over Streamable HTTP as `remote`), and the SDK
 * client calls an upstream that only speaks the legacy HTTP+SSE transport (server-everything `sse`).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { assertBuilt, connectClient, devConfig, INSPECTOR_ENTRY, resultText, run, startEverythingHttp, startWarden, tempDir, writeConfig, type HttpUpstream, type RunningWarden } from '../helpers/e2e.js';
import { everythingStdio, ROOT } from '../helpers/servers.js';

/**
 * inspector-cli 1.0.3 checks for `../package.json` relative to its cwd but imports it relative to its own
 * module, so it only runs from a directory whose parent holds a package.json: test/ (parent: the repo root).
 */
const INSPECTOR_CWD = join(ROOT, 'test');

interface ListedTool {
  name: string;
}
interface CallResult {
  content: Array<{ type: string; text?: string }>;
  isError?: boolean;
}

async function inspector(url: string, args: string[]): Promise<unknown> {
  const r = await run(process.execPath, [INSPECTOR_ENTRY, url, '--transport', 'http', ...args], { cwd: INSPECTOR_CWD, timeoutMs: 20_000 });
  assert.equal(r.code, 0, `inspector-cli ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(`inspector-cli did not print JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

describe('inspector-cli through the gateway: a stdio and a Streamable HTTP upstream', () => {
  const tmp = tempDir('warden-inspector-');
  let remote: HttpUpstream | undefined;
  let warden: RunningWarden | undefined;

  before(async () => {
    assertBuilt();
    assert.ok(existsSync(INSPECTOR_ENTRY), `${INSPECTOR_ENTRY} missing: is the devDependency installed?`);
    assert.ok(existsSync(join(dirname(INSPECTOR_CWD), 'package.json')), 'inspector-cli needs a package.json in the parent of its cwd');
    remote = await startEverythingHttp('streamableHttp');
    const config = writeConfig(tmp.dir, devConfig({ local: everythingStdio(), remote: { url: `http://127.0.0.1:${remote.port}/mcp` } }));
    warden = await startWarden(config);
  });

  after(async () => {
    await warden?.stop(5_000);
    await remote?.stop();
    tmp.remove();
  });

  test('tools/list shows the tools of both upstreams', async () => {
    const listed = (await inspector(warden!.url, ['--method', 'tools/list'])) as { tools: ListedTool[] };
    const names = listed.tools.map((t) => t.name);
    for (const expected of ['local__echo', 'local__get-sum', 'remote__echo', 'remote__get-sum']) {
      assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
    }
    assert.ok(names.every((n) => /^(local|remote)__[a-zA-Z0-9_-]+$/.test(n) && n.length <= 64), names.join(', '));
  });

  test('tools/call reaches the stdio upstream', async () => {
    const result = (await inspector(warden!.url, ['--method', 'tools/call', '--tool-name', 'local__echo', '--tool-arg', 'message=hi'])) as CallResult;
    assert.notEqual(result.isError, true);
    assert.equal(resultText(result), 'Echo: hi');
  });

  test('tools/call reaches the Streamable HTTP upstream', async () => {
    const result = (await inspector(warden!.url, ['--method', 'tools/call', '--tool-name', 'remote__get-sum', '--tool-arg', 'a=2', 'b=3'])) as CallResult;
    assert.notEqual(result.isError, true);
    assert.equal(resultText(result), 'The sum of 2 and 3 is 5.');
  });
});

describe('a legacy HTTP+SSE upstream behind the gateway', () => {
  const tmp = tempDir('warden-sse-');
  let legacy: HttpUpstream | undefined;
  let warden: RunningWarden | undefined;
  let client: Client | undefined;

  before(async () => {
    assertBuilt();
    legacy = await startEverythingHttp('sse');
    // Two upstreams so that names carry their server prefix.
    const config = writeConfig(tmp.dir, devConfig({ legacy: { url: `http://127.0.0.1:${legacy.port}/sse`, transport: 'sse' }, local: everythingStdio() }));
    warden = await startWarden(config);
    client = await connectClient(warden.url);
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await warden?.stop(5_000);
    await legacy?.stop();
    tmp.remove();
  });

  test('its tools are listed and its echo answers through the gateway', async () => {
    const { tools } = await client!.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('legacy__echo'), names.join(', '));
    assert.ok(names.includes('local__echo'), names.join(', '));
    assert.equal(resultText(await client!.callTool({ name: 'legacy__echo', arguments: { message: 'over sse' } })), 'Echo: over sse');
    assert.equal(resultText(await client!.callTool({ name: 'legacy__get-sum', arguments: { a: 40, b: 2 } })), 'The sum of 40 and 2 is 42.');
  });
});
