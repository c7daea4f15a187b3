/**
 * `warden migrate` in process, against a real vault on a real SQLite store: a run stopped after any step
 * (an injected failure) loses nothing, and the rerun completes without duplicating a secret version, a
 * server or a backup; a third run does nothing. Also: other content of the client file survives (non-MCP
 * keys, comments, other TOML tables and YAML keys), a taken name gets a suffix once, a missing master key
 * changes nothing, a dry run writes nothing and prints no secret.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { openMigrationVault } from '../../src/cli/migrate.js';
import { listSecrets } from '../../src/credentials/index.js';
import { migrate, type MigrateOptions, type MigrateStep } from '../../src/posture/index.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/e2e.js';

const GH = `ghp_${randomBytes(18).toString('hex')}`;
const PG = `pw-${randomBytes(9).toString('hex')}`;

describe('warden migrate', () => {
  let tmp: ReturnType<typeof tempDir>;
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    tmp = tempDir('warden-migrate-');
    home = join(tmp.dir, 'home');
    env = { WARDEN_MASTER_KEY: randomBytes(32).toString('hex') };
  });
  afterEach(() => tmp.remove());

  const options = (file: string, extra: Partial<MigrateOptions> = {}): MigrateOptions => ({
    file,
    wardenConfig: join(tmp.dir, 'warden.yaml'),
    scope: { environment: 'dev' },
    launcher: { command: 'warden', args: [] },
    credentialArgs: ['--token-file', '/etc/warden/agent.jwt'],
    gatewayUrl: 'https://gateway.example.com/mcp',
    dryRun: false,
    home,
    openVault: (cfg) => openMigrationVault(cfg, env),
    ...extra,
  });

  const desktopConfig = (): string => {
    const file = join(home, '.config', 'Claude', 'claude_desktop_config.json');
    mkdirSync(join(home, '.config', 'Claude'), { recursive: true });
    writeFileSync(
      file,
      JSON.stringify(
        {
          globalShortcut: 'Ctrl+Space',
          mcpServers: {
            github: {
              command: 'npx',
              args: ['-y', '@modelcontextprotocol/server-github@2025.4.8'],
              env: { GITHUB_PERSONAL_ACCESS_TOKEN: GH },
            },
            db: {
              command: 'npx',
              args: ['-y', '@modelcontextprotocol/server-postgres@0.6.2', `postgresql://app:${PG}@db.internal/app`],
            },
            notion: { url: 'https://mcp.notion.com/mcp', headers: { Authorization: 'Bearer ${env:NOTION_TOKEN}' } },
          },
        },
        null,
        2,
      ),
    );
    return file;
  };

  async function secrets(): Promise<
    Array<{ name: string; version: number; upstream: string | null; environment: string | null }>
  > {
    const store = await openStore(join(tmp.dir, '.warden', 'warden.db'));
    try {
      return (await listSecrets(store.secrets)).map((s) => ({
        name: s.name,
        version: s.version,
        upstream: s.upstream,
        environment: s.environment,
      }));
    } finally {
      await store.close();
    }
  }

  const backups = (file: string) => readdirSync(join(file, '..')).filter((n) => n.includes('.warden-backup-'));

  async function assertDone(file: string): Promise<void> {
    const client = JSON.parse(readFileSync(file, 'utf8')) as {
      globalShortcut: string;
      mcpServers: Record<string, { command: string; args: string[] }>;
    };
    assert.equal(client.globalShortcut, 'Ctrl+Space');
    assert.deepEqual(Object.keys(client.mcpServers), ['warden']);
    assert.deepEqual(client.mcpServers.warden, {
      command: 'warden',
      args: ['connect', 'https://gateway.example.com/mcp', '--token-file', '/etc/warden/agent.jwt'],
    });
    const gw = parseYaml(readFileSync(join(tmp.dir, 'warden.yaml'), 'utf8')) as {
      mcpServers: Record<string, Record<string, unknown>>;
    };
    assert.deepEqual(Object.keys(gw.mcpServers).sort(), ['db', 'github', 'notion']);
    assert.deepEqual(gw.mcpServers.github!.env, {
      GITHUB_PERSONAL_ACCESS_TOKEN: '${secret:github/GITHUB_PERSONAL_ACCESS_TOKEN}',
    });
    assert.deepEqual(gw.mcpServers.db!.args, [
      '-y',
      '@modelcontextprotocol/server-postgres@0.6.2',
      '${secret:db/arg-2}',
    ]);
    assert.deepEqual(gw.mcpServers.notion!.headers, { Authorization: 'Bearer ${secret:notion/authorization}' });
    assert.equal(gw.mcpServers.github!.environment, 'dev');
    assert.deepEqual(await secrets(), [
      { name: 'db/arg-2', version: 1, upstream: 'db', environment: 'dev' },
      { name: 'github/GITHUB_PERSONAL_ACCESS_TOKEN', version: 1, upstream: 'github', environment: 'dev' },
    ]);
    assert.equal(backups(file).length, 1);
    for (const f of [file, join(tmp.dir, 'warden.yaml')]) {
      const text = readFileSync(f, 'utf8');
      assert.ok(!text.includes(GH) && !text.includes(PG), `${f} holds a secret`);
    }
  }

  test('a clean run moves everything; a second run does nothing', async () => {
    const file = desktopConfig();
    const r = await migrate(options(file));
    assert.deepEqual(r.pending, [{ name: 'notion/authorization', upstream: 'notion', from: '${env:NOTION_TOKEN}' }]);
    assert.deepEqual(
      r.secrets.map((s) => s.status),
      ['created', 'created'],
    );
    await assertDone(file);
    const again = await migrate(options(file));
    assert.deepEqual(again.moved, []);
    assert.deepEqual(again.backups, []);
    await assertDone(file);
  });

  for (const failAt of ['plan', 'backup', 'vault', 'gateway-config'] as const) {
    test(`stopped after the ${failAt} step, a rerun completes with nothing lost or duplicated`, async () => {
      const file = desktopConfig();
      const original = readFileSync(file, 'utf8');
      const stop = (s: MigrateStep) => {
        if (s === failAt) throw new Error(`injected failure after ${s}`);
      };
      await assert.rejects(migrate(options(file, { afterStep: stop })), /injected failure/);
      assert.equal(readFileSync(file, 'utf8'), original, 'the client config is untouched until the last step');
      const r = await migrate(options(file));
      await assertDone(file);
      if (failAt === 'vault' || failAt === 'gateway-config')
        assert.deepEqual(
          r.secrets.map((s) => s.status),
          ['unchanged', 'unchanged'],
        );
      if (failAt === 'gateway-config')
        assert.deepEqual(
          r.moved.map((m) => m.status),
          ['present', 'present', 'present'],
        );
    });
  }

  test('without a master key nothing is written', async () => {
    const file = desktopConfig();
    const original = readFileSync(file, 'utf8');
    env = {};
    await assert.rejects(migrate(options(file)), /master key/i);
    assert.equal(readFileSync(file, 'utf8'), original);
    assert.deepEqual(backups(file), []);
  });

  test('a dry run writes nothing and shows no secret', async () => {
    const file = desktopConfig();
    const r = await migrate(options(file, { dryRun: true }));
    assert.match(r.diff, /^-\s+"GITHUB_PERSONAL_ACCESS_TOKEN": "\[redacted:sha256:[0-9a-f]{16}\]"/m);
    assert.match(r.diff, /^\+\s+GITHUB_PERSONAL_ACCESS_TOKEN: \$\{secret:github\/GITHUB_PERSONAL_ACCESS_TOKEN\}/m);
    assert.ok(!r.diff.includes(GH) && !r.diff.includes(PG) && !JSON.stringify(r).includes(GH));
    assert.ok(!existsSync(join(tmp.dir, 'warden.yaml')));
    assert.deepEqual(backups(file), []);
  });

  test('a name taken by a different server gets a suffix, once', async () => {
    writeFileSync(
      join(tmp.dir, 'warden.yaml'),
      '# ours\nlisten: 127.0.0.1:7400\nmcpServers:\n  github:\n    url: https://api.githubcopilot.com/mcp/\n',
    );
    const file = desktopConfig();
    await migrate(options(file));
    const text = readFileSync(join(tmp.dir, 'warden.yaml'), 'utf8');
    assert.match(text, /^# ours/);
    const gw = parseYaml(text) as { mcpServers: Record<string, { env?: Record<string, string> }> };
    assert.deepEqual(Object.keys(gw.mcpServers).sort(), ['db', 'github', 'github-2', 'notion']);
    assert.deepEqual(gw.mcpServers['github-2']!.env, {
      GITHUB_PERSONAL_ACCESS_TOKEN: '${secret:github-2/GITHUB_PERSONAL_ACCESS_TOKEN}',
    });
    await migrate(options(file));
    assert.equal(readFileSync(join(tmp.dir, 'warden.yaml'), 'utf8'), text);
  });

  test("a warden reference already in a client value is not carried over: it becomes the server's own pending secret", async () => {
    const file = join(home, '.cursor', 'mcp.json');
    mkdirSync(join(home, '.cursor'), { recursive: true });
    const servers = {
      notes: {
        command: 'npx',
        args: ['-y', '@acme/notes-mcp@1.0.0', '--key', '${lease:admin}'],
        env: { NOTES_TOKEN: '${secret:global/admin-token}' },
      },
    };
    writeFileSync(file, JSON.stringify({ mcpServers: servers }));
    const r = await migrate(options(file));
    assert.deepEqual(
      r.pending.map((p) => [p.name, p.from]),
      [
        ['notes/arg-3', '${lease:admin}'],
        ['notes/NOTES_TOKEN', '${secret:global/admin-token}'],
      ],
    );
    const gw = parseYaml(readFileSync(join(tmp.dir, 'warden.yaml'), 'utf8')) as {
      mcpServers: Record<string, { args: string[]; env: Record<string, string> }>;
    };
    assert.deepEqual(gw.mcpServers.notes!.env, { NOTES_TOKEN: '${secret:notes/NOTES_TOKEN}' });
    assert.equal(gw.mcpServers.notes!.args[3], '${secret:notes/arg-3}');
  });

  test('a Windows-edited file (byte order mark, CRLF) is read, and rewritten with both kept', async () => {
    const file = join(home, 'AppData', 'Roaming', 'Claude', 'claude_desktop_config.json');
    mkdirSync(join(home, 'AppData', 'Roaming', 'Claude'), { recursive: true });
    const body = JSON.stringify(
      {
        mcpServers: {
          github: {
            command: 'cmd',
            args: ['/c', 'npx', '-y', '@modelcontextprotocol/server-github@2025.4.8'],
            env: { GITHUB_PERSONAL_ACCESS_TOKEN: GH },
          },
        },
      },
      null,
      2,
    );
    writeFileSync(file, '\uFEFF' + body.replace(/\n/g, '\r\n'));
    const r = await migrate(options(file));
    assert.deepEqual(
      r.secrets.map((x) => x.name),
      ['github/GITHUB_PERSONAL_ACCESS_TOKEN'],
    );
    const text = readFileSync(file, 'utf8');
    assert.ok(text.startsWith('\uFEFF{\r\n'), 'the byte order mark and CRLF line ends stay');
    assert.ok(!text.includes(GH));
    assert.deepEqual(Object.keys((JSON.parse(text.slice(1)) as { mcpServers: object }).mcpServers), ['warden']);
  });

  test('what the client supplied or decided itself: env-var headers become pending secrets, client-side settings are named, an envFile server stays', async () => {
    const codex = join(home, '.codex', 'config.toml');
    mkdirSync(join(home, '.codex'), { recursive: true });
    writeFileSync(
      codex,
      `[mcp_servers.linear]\nurl = "https://mcp.linear.app/mcp"\nbearer_token_env_var = "LINEAR_TOKEN"\nenv_http_headers = { "X-Team" = "LINEAR_TEAM_KEY" }\nstartup_timeout_sec = 20\n`,
    );
    const r = await migrate(options(codex));
    assert.deepEqual(r.pending.map((p) => [p.name, p.from]).sort(), [
      ['linear/authorization', '${LINEAR_TOKEN}'],
      ['linear/x-team', '${LINEAR_TEAM_KEY}'],
    ]);
    assert.deepEqual(r.dropped, [{ name: 'linear', keys: ['startup_timeout_sec'] }]);
    const gw = parseYaml(readFileSync(join(tmp.dir, 'warden.yaml'), 'utf8')) as {
      mcpServers: Record<string, { headers: Record<string, string> }>;
    };
    assert.deepEqual(gw.mcpServers.linear!.headers, {
      Authorization: 'Bearer ${secret:linear/authorization}',
      'X-Team': '${secret:linear/x-team}',
    });

    const vscode = join(tmp.dir, 'repo', '.vscode', 'mcp.json');
    mkdirSync(join(tmp.dir, 'repo', '.vscode'), { recursive: true });
    writeFileSync(
      vscode,
      JSON.stringify({
        servers: {
          db: { type: 'stdio', command: 'uvx', args: ['mcp-server-db==1.0.0'], envFile: '${workspaceFolder}/.env' },
        },
      }),
    );
    const v = await migrate(options(vscode));
    assert.deepEqual(
      v.left.map((l) => l.name),
      ['db'],
    );
    assert.match(v.left[0]!.reason, /envFile/);
    assert.deepEqual(Object.keys((JSON.parse(readFileSync(vscode, 'utf8')) as { servers: object }).servers), ['db']);
  });

  test('Codex TOML: other tables and comments stay, the server tables go', async () => {
    const file = join(home, '.codex', 'config.toml');
    mkdirSync(join(home, '.codex'), { recursive: true });
    writeFileSync(
      file,
      `# my codex\nmodel = "o3"\n\n[mcp_servers.github]\ncommand = "npx"\nargs = ["-y", "@modelcontextprotocol/server-github@2025.4.8"]\n\n[mcp_servers.github.env]\nGITHUB_PERSONAL_ACCESS_TOKEN = "${GH}"\n\n[profiles.fast]\nmodel = "o4-mini"\n`,
    );
    await migrate(options(file));
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^# my codex\nmodel = "o3"/);
    assert.ok(!text.includes(GH));
    const toml = JSON.parse(JSON.stringify(parseToml(text))) as {
      profiles: unknown;
      mcp_servers: Record<string, unknown>;
    };
    assert.deepEqual(toml.profiles, { fast: { model: 'o4-mini' } });
    assert.deepEqual(Object.keys(toml.mcp_servers), ['warden']);
  });

  test('Continue YAML: the list item is replaced, models and comments stay; a Zed extension is left in place', async () => {
    const cont = join(home, '.continue', 'config.yaml');
    mkdirSync(join(home, '.continue'), { recursive: true });
    writeFileSync(
      cont,
      `name: Local\n# models first\nmodels:\n  - name: llama\n    provider: ollama\n    model: llama3\nmcpServers:\n  - name: GitHub Tools\n    command: npx\n    args: ["-y", "@modelcontextprotocol/server-github@2025.4.8"]\n    env:\n      GITHUB_PERSONAL_ACCESS_TOKEN: ${GH}\n`,
    );
    const r = await migrate(options(cont));
    assert.deepEqual(r.moved, [{ clientName: 'GitHub Tools', name: 'GitHub-Tools', status: 'added' }]);
    const text = readFileSync(cont, 'utf8');
    assert.match(text, /# models first/);
    const y = parseYaml(text) as { models: unknown[]; mcpServers: Array<{ name: string; command: string }> };
    assert.equal(y.models.length, 1);
    assert.deepEqual(
      y.mcpServers.map((s) => s.name),
      ['warden'],
    );

    const zed = join(home, '.config', 'zed', 'settings.json');
    mkdirSync(join(home, '.config', 'zed'), { recursive: true });
    writeFileSync(
      zed,
      `// zed\n{\n  "theme": "One Dark",\n  "context_servers": {\n    "mcp-server-github": { "source": "extension", "settings": { "github_personal_access_token": "${GH}" } }\n  }\n}\n`,
    );
    const z = await migrate(options(zed));
    assert.equal(z.left.length, 1);
    assert.match(z.left[0]!.reason, /no command or URL/);
    assert.equal(readFileSync(zed, 'utf8').includes('"theme": "One Dark"'), true);
  });
});
