/**
 * `warden scan` -> `warden migrate` -> the client's own config, end to end with the real binary: a VS Code
 * mcp.json (comments, inputs) holds two servers that each need a credential written into it: a stdio server
 * that exits unless its env var holds the right token, and an HTTP server that answers 401 without the
 * right bearer token. After the migration the client config has one `warden connect` entry (comments and
 * inputs kept); started as the client would start it, it reaches the real gateway, which serves the same
 * tools with the credentials taken from the vault. The credentials appear in no new file (only in the backup).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parse as parseJsonc } from 'jsonc-parser';
import { startHeaderReporter, type HeaderReporter } from '../fixtures/header-reporter.js';
import { assertBuilt, runWarden, startWarden, tempDir, writeConfig, type RunningWarden } from '../helpers/e2e.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { ROOT } from '../helpers/servers.js';

const require = createRequire(import.meta.url);
const TSX = pathToFileURL(require.resolve('tsx')).href;
const TICKETS_TOKEN = `tkt_${randomBytes(20).toString('hex')}`;
const REPORTS_TOKEN = `sk_live_${randomBytes(24).toString('base64url').replace(/[-_]/g, 'x')}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

type ServerSpec = {
  type: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  url?: string;
  headers?: Record<string, string>;
};

/** Connects to a server as the client config describes it, and lists its tools. */
async function toolsOf(spec: ServerSpec): Promise<{ client: Client; names: string[] }> {
  const client = new Client({ name: 'migrate-e2e', version: '1' });
  if (spec.command) {
    await client.connect(
      new StdioClientTransport({
        command: spec.command,
        args: spec.args ?? [],
        env: { PATH: process.env.PATH ?? '', ...(spec.env ?? {}) },
        stderr: 'ignore',
      }),
    );
  } else {
    await client.connect(
      new StreamableHTTPClientTransport(new URL(spec.url!), { requestInit: { headers: spec.headers ?? {} } }),
    );
  }
  const { tools } = await client.listTools();
  return { client, names: tools.map((t) => t.name).sort() };
}

describe('scan, migrate, and the client reaches its tools through the gateway', () => {
  const tmp = tempDir('warden-migrate-e2e-');
  const project = join(tmp.dir, 'shop');
  const clientFile = join(project, '.vscode', 'mcp.json');
  const env = { ...process.env, WARDEN_MASTER_KEY: randomBytes(32).toString('hex'), HOME: join(tmp.dir, 'home') };
  let reporter: HeaderReporter;
  let proxy: Server;
  let gatewayPort = 0;
  let gateway: RunningWarden | undefined;
  let original: Record<string, ServerSpec>;

  before(async () => {
    assertBuilt();
    mkdirSync(join(project, '.vscode'), { recursive: true });
    reporter = await startHeaderReporter({ requireBearer: REPORTS_TOKEN });
    // The client config must name the gateway's URL before the gateway (on port 0) exists: a forwarder
    // listening now is that URL, and passes bytes to the gateway once it runs.
    proxy = createServer((sock) => {
      const up = connect(gatewayPort, '127.0.0.1');
      sock.pipe(up).pipe(sock);
      sock.on('error', () => up.destroy());
      up.on('error', () => sock.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const publicUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp`;
    writeConfig(project, {
      listen: '127.0.0.1:0',
      publicUrl,
      auth: { mode: 'none' },
      store: 'warden.db',
      log: { level: 'error' },
      policy: { files: [ALLOW_ALL_POLICY] },
      vault: {}, // the master key comes from WARDEN_MASTER_KEY
      mcpServers: {},
    });
    original = {
      tickets: {
        type: 'stdio',
        command: process.execPath,
        args: ['--import', TSX, join(ROOT, 'test', 'fixtures', 'recording-upstream.ts')],
        env: {
          TICKETS_API_TOKEN: TICKETS_TOKEN,
          REQUIRE_TOKEN_VAR: 'TICKETS_API_TOKEN',
          REQUIRE_DIGEST: sha256(TICKETS_TOKEN),
        },
      },
      reports: { type: 'http', url: reporter.url, headers: { Authorization: `Bearer ${REPORTS_TOKEN}` } },
    };
    const body = JSON.stringify(
      {
        inputs: [{ type: 'promptString', id: 'unused', description: 'kept as is', password: true }],
        servers: original,
      },
      null,
      2,
    );
    writeFileSync(clientFile, `// Team MCP servers: keep this comment\n${body}\n`);
  });

  after(async () => {
    await gateway?.stop();
    await reporter?.close();
    await new Promise<void>((r) => proxy.close(() => r()));
    tmp.remove();
  });

  test('the servers need their credentials, and work with them as configured', async () => {
    for (const spec of Object.values(original)) {
      const { client, names } = await toolsOf(spec);
      assert.ok(names.length > 0);
      await client.close();
    }
    await assert.rejects(toolsOf({ ...original.reports!, headers: {} }));
  });

  test('scan reports both hard-coded credentials', async () => {
    const r = await runWarden(['scan', '--format', 'json', '--fail-on', 'high'], { cwd: project, env });
    assert.equal(r.code, 1, r.stderr);
    const findings = (JSON.parse(r.stdout) as { findings: Array<{ rule: string; pointer: string }> }).findings.filter(
      (f) => f.rule === 'hardcoded-secret',
    );
    assert.deepEqual(findings.map((f) => f.pointer).sort(), [
      '/servers/reports/headers/Authorization',
      '/servers/tickets/env/TICKETS_API_TOKEN',
    ]);
    assert.ok(!r.stdout.includes(TICKETS_TOKEN) && !r.stdout.includes(REPORTS_TOKEN));
  });

  test('migrate moves the servers and secrets, and the client reaches the same tools through the gateway', async () => {
    const before = new Map<string, string[]>();
    for (const [name, spec] of Object.entries(original)) {
      const { client, names } = await toolsOf(spec);
      before.set(name, names);
      await client.close();
    }
    const m = await runWarden(['migrate', '.vscode/mcp.json', '-c', 'warden.yaml', '--launcher', 'node'], {
      cwd: project,
      env,
    });
    assert.equal(m.code, 0, m.stderr);
    assert.ok(!m.stdout.includes(TICKETS_TOKEN) && !m.stdout.includes(REPORTS_TOKEN));

    const text = readFileSync(clientFile, 'utf8');
    assert.match(text, /^\/\/ Team MCP servers: keep this comment/);
    const migrated = parseJsonc(text) as { inputs: unknown[]; servers: Record<string, ServerSpec> };
    assert.deepEqual(migrated.inputs, [
      { type: 'promptString', id: 'unused', description: 'kept as is', password: true },
    ]);
    assert.deepEqual(Object.keys(migrated.servers), ['warden']);
    const entry = migrated.servers.warden!;
    assert.deepEqual(entry.args!.slice(1, 2), ['connect']);

    gateway = await startWarden(join(project, 'warden.yaml'), { env });
    gatewayPort = Number(new URL(gateway.url).port);
    const { client, names } = await toolsOf(entry);
    try {
      for (const [server, tools] of before) {
        assert.deepEqual(
          names
            .filter((n) => n.startsWith(`${server}__`))
            .map((n) => n.slice(server.length + 2))
            .sort(),
          tools,
        );
      }
      const echo = await client.callTool({ name: 'tickets__echo', arguments: { message: 'through the gateway' } });
      assert.deepEqual(echo.content, [{ type: 'text', text: 'through the gateway' }]);
      const report = await client.callTool({ name: 'reports__report', arguments: {} });
      const seen = JSON.stringify(report.content);
      assert.match(
        seen,
        /Bearer \[redacted:reports\/authorization\]/,
        'the upstream got the vault secret, and the gateway redacted its echo',
      );
      assert.ok(!seen.includes(REPORTS_TOKEN));
    } finally {
      await client.close();
    }
  });

  test('the credentials appear in no new file; the backup keeps them, readable by the owner only', async () => {
    const files = readdirSync(project, { recursive: true }) as string[];
    const backups = files.filter((f) => f.includes('.warden-backup-')).sort();
    assert.deepEqual(
      backups.map((b) => b.replace(/\.warden-backup-.*$/, '')),
      [join('.vscode', 'mcp.json'), 'warden.yaml'],
    );
    for (const b of backups) assert.equal(statSync(join(project, b)).mode & 0o777, 0o600);
    assert.ok(
      readFileSync(join(project, backups[0]!), 'utf8').includes(TICKETS_TOKEN),
      'the client backup is the file as it was',
    );
    const checked = files.filter((x) => x !== backups[0] && statSync(join(project, x)).isFile());
    assert.ok(
      checked.includes(join('.vscode', 'mcp.json')) && checked.includes('warden.yaml') && checked.includes('warden.db'),
    );
    for (const f of checked) {
      const bytes = readFileSync(join(project, f));
      for (const secret of [TICKETS_TOKEN, REPORTS_TOKEN])
        assert.ok(!bytes.includes(secret), `${f} holds a credential`);
    }
    const rescan = await runWarden(['scan', '--format', 'json', '.'], { cwd: project, env });
    const rules = (JSON.parse(rescan.stdout) as { findings: Array<{ rule: string }> }).findings.map((f) => f.rule);
    assert.ok(!rules.includes('hardcoded-secret') && !rules.includes('gateway-bypass'), rules.join(', '));
  });
});
