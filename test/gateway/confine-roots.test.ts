/**
 * Issue 11 item 1: roots are the operator's. A client that answers roots/list with `file:///` cannot widen
 * what server-filesystem serves (it is never asked); the gateway answers the upstream's roots/list with the
 * configured roots itself; where the operator opts in to client roots, each is narrowed to the configured
 * ones and decided (`use_root`, audited); and no spawned upstream is ever pointed at the gateway's own files,
 * at start (a clear refusal) or per call (a symlink to the store). Real server-filesystem, real files, a
 * recording pass-through that shows what reached it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startGateway } from '../../src/cli/start-gateway.js';
import { ConfigError, validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { auditAfter, lastAuditId, quiet, recorded as recordedLines } from '../helpers/auth.js';
import { startTestGateway, withMasterKey, type TestGateway } from '../helpers/gateway.js';
import { filesystemStdio, memoryStdio, recorded } from '../helpers/servers.js';

const text = (r: unknown): string => ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('roots are the operator\'s', () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'warden-roots-')));
  const data = join(base, 'data');
  const outside = join(base, 'outside');
  const clients: Client[] = [];
  const gateways: TestGateway[] = [];

  before(() => {
    mkdirSync(join(data, 'sub'), { recursive: true });
    mkdirSync(join(data, 'other'), { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(data, 'top.txt'), 'top of data');
    writeFileSync(join(data, 'sub', 'inner.txt'), 'inner');
    writeFileSync(join(outside, 'secret.txt'), 'OUTSIDE-SECRET');
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const g of gateways) await g.close();
    rmSync(base, { recursive: true, force: true });
  });

  /** An SDK client that declares roots and answers roots/list with `roots()` (recording that it was asked). */
  async function connect(gw: TestGateway, roots: () => string[]): Promise<{ client: Client; asked: () => number }> {
    const client = new Client({ name: 'roots-test', version: '0' }, { capabilities: { roots: { listChanged: true } } });
    let asked = 0;
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      asked++;
      return { roots: roots().map((uri) => ({ uri, name: 'client-root' })) };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    clients.push(client);
    return { client, asked: () => asked };
  }

  /** server-filesystem's directories once they include `expected` (it sets them in the background), within 5 s. */
  async function allowedOnceSet(client: Client, expected: string): Promise<string> {
    let dirs = '';
    for (let i = 0; i < 100; i++) {
      dirs = text(await client.callTool({ name: 'list_allowed_directories', arguments: {} }));
      if (dirs.includes(expected)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return dirs;
  }

  const start = async (mcpServers: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const gw = await startTestGateway(mcpServers, extra);
    gateways.push(gw);
    return gw;
  };

  test('by default a client\'s roots never reach the upstream: answering file:/// widens nothing', async () => {
    const rec = join(base, 'default.log');
    const gw = await start({ fs: recorded(filesystemStdio(data), rec) });
    const { client, asked } = await connect(gw, () => ['file:///']);
    const dirs = text(await client.callTool({ name: 'list_allowed_directories', arguments: {} }));
    assert.match(dirs, new RegExp(data));
    assert.doesNotMatch(dirs, /^\/$/m);
    const attempt = await client.callTool({ name: 'read_text_file', arguments: { path: join(outside, 'secret.txt') } });
    assert.equal(attempt.isError, true);
    assert.doesNotMatch(text(attempt), /OUTSIDE-SECRET/);
    assert.equal(asked(), 0, 'the client was never asked for its roots');
    await quiet(rec);
    const init = recordedLines(rec).find((l) => l.includes('"method":"initialize"'))!;
    assert.doesNotMatch(init, /"roots"/, 'no roots capability was declared to the upstream');
  });

  test('configured roots: the gateway answers roots/list itself; a path outside them is refused before the upstream, and audited', async () => {
    const rec = join(base, 'configured.log');
    // server-filesystem started with no directory: its only directories are the roots the gateway answers with.
    const fs = filesystemStdio(data);
    const gw = await start({ fs: { ...recorded({ command: fs.command, args: [fs.args[0]!] }, rec), roots: [data] } });
    const { client, asked } = await connect(gw, () => ['file:///']);
    assert.match(await allowedOnceSet(client, data), new RegExp(`${data}$`, 'm'));
    assert.equal(text(await client.callTool({ name: 'read_text_file', arguments: { path: 'top.txt' } })), 'top of data', 'a relative path resolves in the root');
    const mark = await lastAuditId(gw);
    await assert.rejects(client.callTool({ name: 'read_text_file', arguments: { path: join(outside, 'secret.txt') } }), /outside the roots of upstream fs/);
    await assert.rejects(client.callTool({ name: 'read_text_file', arguments: { path: '../outside/secret.txt' } }), /outside the roots/);
    const denials = (await auditAfter(gw, mark)).filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.deepEqual(denials.map((e) => [e.outcome, e.errorCode, e.decision?.effect]), [['denied', 'policy_denied', 'deny'], ['denied', 'policy_denied', 'deny']]);
    assert.equal(asked(), 0);
    await quiet(rec);
    const lines = recordedLines(rec);
    assert.ok(lines.some((l) => l.startsWith('< ') && l.includes('"method":"roots/list"')), 'the upstream asked for its roots');
    assert.ok(lines.some((l) => l.includes(pathToFileURL(data).href)), 'and was answered with the configured root');
    assert.ok(!lines.some((l) => !l.startsWith('< ') && l.includes('secret.txt')), 'the refused reads never reached it');
  });

  test('client roots (operator opt-in) are narrowed to the configured ones and each decided; list changes follow', async () => {
    const policyFile = join(base, 'roots.cedar');
    writeFileSync(
      policyFile,
      `permit (principal, action in [Action::"list", Action::"call_tool"], resource);
@id("roots-below-data") @reason("only directories below the data root")
permit (principal, action == Action::"use_root", resource) when { resource.uri like "${pathToFileURL(data).href}/*" };`,
    );
    const fs = filesystemStdio(data);
    const gw = await start({ fs: { command: fs.command, args: [fs.args[0]!], roots: [data], clientRoots: true } }, { policy: { files: [policyFile] } });
    let roots = ['file:///', pathToFileURL(join(data, 'sub')).href, 'file:///etc'];
    const { client, asked } = await connect(gw, () => roots);
    const mark = await lastAuditId(gw);
    // file:/// narrows to the data root itself (not below it: denied); sub is allowed; /etc is outside: dropped.
    // (server-filesystem asks for its roots once initialized, in the background: wait for its answer to land.)
    const dirs = await allowedOnceSet(client, 'sub');
    assert.match(dirs, new RegExp(`${join(data, 'sub')}$`, 'm'));
    assert.doesNotMatch(dirs, new RegExp(`${data}$`, 'm'));
    assert.doesNotMatch(dirs, /\/etc/);
    assert.ok(asked() >= 1);
    const uses = (await auditAfter(gw, mark)).filter((e) => e.method === 'roots/use');
    assert.deepEqual(
      uses.map((e) => [e.target, e.decision?.effect, e.outcome]).sort(),
      [
        [pathToFileURL(data).href, 'deny', 'denied'],
        [pathToFileURL(join(data, 'sub')).href, 'allow', 'ok'],
      ].sort(),
    );
    assert.equal(text(await client.callTool({ name: 'read_text_file', arguments: { path: join(data, 'sub', 'inner.txt') } })), 'inner');
    // The client's roots change: the upstream asks again and gets the new, narrowed set.
    roots = [pathToFileURL(join(data, 'other')).href];
    await client.sendRootsListChanged();
    assert.match(await allowedOnceSet(client, 'other'), new RegExp(`${join(data, 'other')}$`, 'm'));
  });

  test('a symlink inside a root that leads to the gateway\'s store is refused per call, and audited', async () => {
    const linked = join(base, 'linked');
    mkdirSync(linked);
    writeFileSync(join(linked, 'ok.txt'), 'fine');
    const gw = await start({ fs: filesystemStdio(linked) });
    symlinkSync(join(gw.dir, 'warden.db'), join(linked, 'db-link'));
    const { client } = await connect(gw, () => []);
    assert.equal(text(await client.callTool({ name: 'read_text_file', arguments: { path: join(linked, 'ok.txt') } })), 'fine');
    const mark = await lastAuditId(gw);
    await assert.rejects(client.callTool({ name: 'read_media_file', arguments: { path: join(linked, 'db-link') } }), /gateway's own files \(its store\)/);
    const [e] = (await auditAfter(gw, mark)).filter((x) => x.method === 'tools/call' && x.outcome !== 'intent');
    assert.equal(e?.decision?.effect, 'deny');
    assert.equal(e?.upstreamStatus ?? null, null, 'never forwarded');
  });

  describe('the start is refused when an upstream is pointed at the gateway\'s own files', () => {
    const dir = join(base, 'config-dir');
    const configFile = join(dir, 'warden.yaml');
    before(() => {
      mkdirSync(join(dir, 'policies'), { recursive: true });
      writeFileSync(configFile, '# the config (its content is not read by this test)\n');
      writeFileSync(join(dir, 'policies', 'p.cedar'), 'permit (principal, action, resource);');
    });

    const startWith = async (mcpServers: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const config = validateConfig({ listen: '127.0.0.1:0', store: join(base, `store-${Math.random().toString(36).slice(2)}.db`), auth: { mode: 'none' }, policy: { files: ['policies'] }, mcpServers, ...withMasterKey(base, extra) }, configFile);
      const running = await startGateway(config, dir, createLogger('silent'), configFile);
      await running.close();
    };
    const refused = (mcpServers: Record<string, unknown>, pattern: RegExp, extra?: Record<string, unknown>) =>
      assert.rejects(startWith(mcpServers, extra), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));

    test('a directory argument holding the config, a root of /, a store inside the served directory, a file path onto the config', async () => {
      await refused({ fs: filesystemStdio(dir) }, /mcpServers\.fs\.args\.1: .* contains the gateway's own files \(its config file: .*warden\.yaml\)/);
      await refused({ fs: { ...filesystemStdio(data), roots: ['/'] } }, /mcpServers\.fs\.roots\.0: \/ contains the gateway's own files/);
      await refused({ fs: filesystemStdio(data) }, /mcpServers\.fs\.args\.1: .* contains the gateway's own files \(its store/, { store: join(data, 'warden.db') });
      await refused({ mem: memoryStdio(configFile) }, /mcpServers\.mem\.env\.MEMORY_FILE_PATH: .* is the gateway's own files \(its config file/);
      await refused({ fs: filesystemStdio(join(dir, 'policies')) }, /a policy file/);
      assert.match(readFileSync(configFile, 'utf8'), /the config/, 'nothing was written over the config');
    });

    test('allowGatewayFiles: the operator says so explicitly, and it starts', async () => {
      await startWith({ fs: { ...filesystemStdio(dir), allowGatewayFiles: true } });
      await startWith({ fs: filesystemStdio(data) });
    });
  });
});
