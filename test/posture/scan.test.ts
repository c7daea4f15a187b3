/**
 * The scan beyond the corpus: finding configs with no PATH (per-user locations of every OS under HOME,
 * APPDATA, the current folder), positions that point at the value in JSON, TOML and YAML, SARIF 2.1.0
 * structure, the output scrubber as a second layer, the CLI's exit codes, and the rules' edge cases.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { renderJson, renderSarif, renderText, scan, SCAN_RULES, type ScanResult } from '../../src/posture/index.js';
import { isBroadRoot } from '../../src/posture/detect-server.js';
import { unpinnedReason } from '../../src/posture/launch.js';
import { fromPointer } from '../../src/posture/pointer.js';
import { isPlaceholder, isSecretName } from '../../src/posture/values.js';
import { runWarden, tempDir } from '../helpers/e2e.js';

const CORPUS = new URL('../fixtures/posture-corpus/', import.meta.url).pathname;
const tmp = tempDir('warden-scan-');
after(() => tmp.remove());

/** A home with one config per client, in the layouts of three OSes, and a project. */
function fixtureHome(): { home: string; project: string; appdata: string; secrets: string[] } {
  const home = join(tmp.dir, 'home');
  const copy = (from: string, to: string) => {
    mkdirSync(dirname(join(home, to)), { recursive: true });
    cpSync(join(CORPUS, from), join(home, to));
  };
  copy(
    'claude-desktop-macos/home/Library/Application Support/Claude/claude_desktop_config.json',
    'Library/Application Support/Claude/claude_desktop_config.json',
  );
  copy('claude-code-user/home/.claude.json', '.claude.json');
  copy('cursor-user/home/.cursor/mcp.json', '.cursor/mcp.json');
  copy('vscode-user-settings/home/.config/Code/User/settings.json', '.config/Code/User/settings.json');
  copy('windsurf/home/.codeium/windsurf/mcp_config.json', '.codeium/windsurf/mcp_config.json');
  copy('codex-user/home/.codex/config.toml', '.codex/config.toml');
  copy('gemini-user/home/.gemini/settings.json', '.gemini/settings.json');
  copy('zed-user/home/.config/zed/settings.json', '.config/zed/settings.json');
  copy('continue-user/home/.continue/config.yaml', '.continue/config.yaml');
  const appdata = join(tmp.dir, 'appdata');
  mkdirSync(join(appdata, 'Claude'), { recursive: true });
  cpSync(
    join(CORPUS, 'claude-desktop-windows/home/AppData/Roaming/Claude/claude_desktop_config.json'),
    join(appdata, 'Claude', 'claude_desktop_config.json'),
  );
  const project = join(tmp.dir, 'project');
  cpSync(join(CORPUS, 'gateway-bypass-repo/repo'), project, { recursive: true });
  cpSync(join(CORPUS, 'claude-code-project/repo/.mcp.json'), join(project, '.mcp.json'));
  const secrets = [
    'claude-desktop-macos',
    'cursor-user',
    'codex-user',
    'claude-desktop-windows',
    'claude-code-project',
  ].flatMap(
    (c) => (JSON.parse(readFileSync(join(CORPUS, c, 'expected.json'), 'utf8')) as { secrets: string[] }).secrets,
  );
  return { home, project, appdata, secrets };
}

const where = fixtureHome();

describe('warden scan', () => {
  test('with no PATH: the per-user files of every client and OS layout, APPDATA, and the project', async () => {
    const r = await scan({ paths: [], home: where.home, cwd: where.project, env: { APPDATA: where.appdata } });
    const found = r.configs.map((c) => `${c.client}:${c.scope}:${relative(tmp.dir, c.file)}`).sort();
    assert.deepEqual(found, [
      'claude-code:project:project/.mcp.json',
      'claude-code:user:home/.claude.json',
      'claude-desktop:user:appdata/Claude/claude_desktop_config.json',
      'claude-desktop:user:home/Library/Application Support/Claude/claude_desktop_config.json',
      'codex:user:home/.codex/config.toml',
      'continue:user:home/.continue/config.yaml',
      'cursor:project:project/.cursor/mcp.json',
      'cursor:user:home/.cursor/mcp.json',
      'gemini:user:home/.gemini/settings.json',
      'vscode:project:project/.vscode/mcp.json',
      'vscode:user:home/.config/Code/User/settings.json',
      'warden:gateway:project/warden.yaml',
      'windsurf:user:home/.codeium/windsurf/mcp_config.json',
      'zed:user:home/.config/zed/settings.json',
    ]);
  });

  test('positions point at the value the pointer names, in JSON, JSONC, TOML and YAML', async () => {
    const r = await scan({
      paths: [
        join(CORPUS, 'codex-user'),
        join(CORPUS, 'continue-user'),
        join(CORPUS, 'zed-user'),
        join(CORPUS, 'claude-desktop-macos'),
      ],
      home: '/nowhere',
      cwd: CORPUS,
    });
    assert.ok(r.findings.length >= 10);
    for (const f of r.findings) {
      const line = readFileSync(f.file, 'utf8').split('\n')[f.position.line - 1] ?? '';
      const last = fromPointer(f.pointer).pop()!;
      const key = /^\d+$/.test(last) ? undefined : last;
      // A key names its line; an array item's line holds a value of the server (the item itself, or its start).
      if (key !== undefined)
        assert.ok(line.includes(key), `${f.rule} ${f.pointer}: line ${f.position.line} is "${line.trim()}"`);
      else
        assert.ok(
          line.trim().length > 0 && f.position.column <= line.length + 1,
          `${f.rule} ${f.pointer}: line ${f.position.line}`,
        );
    }
    const figma = r.findings.find((f) => f.pointer === '/mcp_servers/figma/args/2')!;
    assert.match(readFileSync(figma.file, 'utf8').split('\n')[figma.position.line - 1]!, /--figma-api-key=/);
  });

  test('SARIF 2.1.0: rules, results, levels, locations relative to SRCROOT', async () => {
    const r = await scan({ paths: [CORPUS], home: '/nowhere', cwd: CORPUS });
    const sarif = JSON.parse(renderSarif(r, { cwd: CORPUS, version: '9.9.9' })) as {
      version: string;
      $schema: string;
      runs: Array<{
        tool: {
          driver: { name: string; version: string; rules: Array<{ id: string; properties: Record<string, unknown> }> };
        };
        originalUriBaseIds: Record<string, { uri: string }>;
        results: Array<Record<string, never>>;
      }>;
    };
    assert.equal(sarif.version, '2.1.0');
    assert.match(sarif.$schema, /sarif-2\.1\.0/);
    const run = sarif.runs[0]!;
    assert.deepEqual(
      run.tool.driver.rules.map((x) => x.id),
      SCAN_RULES.map((x) => x.id),
    );
    assert.ok(run.originalUriBaseIds.SRCROOT!.uri.startsWith('file:///'));
    assert.equal(run.results.length, r.findings.length);
    for (const res of run.results as unknown as Array<{
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      locations: Array<{
        physicalLocation: {
          artifactLocation: { uri: string; uriBaseId?: string };
          region: { startLine: number; startColumn: number };
        };
      }>;
      partialFingerprints: Record<string, string>;
    }>) {
      assert.equal(run.tool.driver.rules[res.ruleIndex]!.id, res.ruleId);
      assert.ok(['error', 'warning', 'note'].includes(res.level));
      const loc = res.locations[0]!.physicalLocation;
      assert.equal(loc.artifactLocation.uriBaseId, 'SRCROOT');
      assert.ok(!loc.artifactLocation.uri.startsWith('/') && loc.region.startLine >= 1 && loc.region.startColumn >= 1);
      assert.ok(res.message.text.length > 0 && res.partialFingerprints['wardenFindingId/v1']);
    }
  });

  test('a secret that slipped into a finding is still redacted in every format (the second layer)', async () => {
    const r = await scan({ paths: [join(CORPUS, 'cursor-user')], home: '/nowhere', cwd: CORPUS });
    const secret = r.secretValues[0]!;
    const leaky: ScanResult = {
      ...r,
      findings: r.findings.map((f) => ({ ...f, why: `${f.why} (value ${secret})`, server: secret })),
    };
    for (const out of [
      renderText(leaky, { cwd: CORPUS, version: 't' }),
      renderJson(leaky, { cwd: CORPUS, version: 't' }),
      renderSarif(leaky, { cwd: CORPUS, version: 't' }),
    ]) {
      assert.ok(!out.includes(secret));
      assert.match(out, /\[redacted:sha256:[0-9a-f]{16}\]/);
    }
  });

  test('the CLI: no PATH finds the configs; exit codes follow --fail-on; no format prints a secret', async () => {
    const env = { ...process.env, HOME: where.home, APPDATA: where.appdata };
    for (const format of ['text', 'json', 'sarif']) {
      const r = await runWarden(['scan', '--format', format], { cwd: where.project, env });
      assert.equal(r.code, 0, r.stderr);
      for (const s of where.secrets)
        assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `${format} output holds a secret`);
    }
    assert.equal((await runWarden(['scan', '--fail-on', 'critical'], { cwd: where.project, env })).code, 1);
    assert.equal((await runWarden(['scan', '--fail-on', 'nonsense'], { cwd: where.project, env })).code, 2);
    const clean = join(CORPUS, 'claude-desktop-linux-clean');
    assert.equal((await runWarden(['scan', clean, '--fail-on', 'info'], { cwd: clean, env })).code, 0);
    const out = join(tmp.dir, 'scan.sarif');
    const w = await runWarden(['scan', '--format', 'sarif', '-o', out], { cwd: where.project, env });
    assert.equal(w.code, 0);
    assert.equal((JSON.parse(readFileSync(out, 'utf8')) as { version: string }).version, '2.1.0');
  });

  test('rule edges: credential names, placeholders, versions, roots', () => {
    for (const n of [
      'GITHUB_PERSONAL_ACCESS_TOKEN',
      'OPENAI_API_KEY',
      'x-api-key',
      'Authorization',
      'DB_PASSWORD',
      '--access-token',
      'clientSecret',
      'SLACK_BOT_TOKEN',
      'Cookie',
    ]) {
      assert.ok(isSecretName(n) || n === 'Authorization' || n === 'Cookie', n);
    }
    for (const n of [
      'GITHUB_TOKEN_FILE',
      'AWS_ACCESS_KEY_ID',
      'OAUTH_TOKEN_URL',
      'API_KEY_HEADER',
      'TOKEN_TTL',
      'SECRET_NAME',
      'CLIENT_ID',
      'AUTH_TYPE',
      'SLACK_TEAM_ID',
    ])
      assert.ok(!isSecretName(n), n);
    for (const v of [
      '<YOUR_TOKEN>',
      'your-api-key-here',
      'xxxxxxxxxxxx',
      'changeme',
      'YOUR_API_KEY_HERE',
      '********',
      'true',
    ])
      assert.ok(isPlaceholder(v), v);
    for (const v of ['ghp_R8x2LmQ9vTn4Kp7Wz3', 'hunter22', 'BSAxyz123abc']) assert.ok(!isPlaceholder(v), v);
    const npm = (spec: string) => unpinnedReason({ ecosystem: 'npm', spec, argIndex: 0 });
    assert.equal(npm('@scope/pkg@1.2.3'), undefined);
    assert.equal(npm('pkg@1.2.3-beta.1'), undefined);
    assert.equal(npm('./local/server.js'), undefined);
    assert.match(npm('@scope/pkg')!, /no version/);
    assert.match(npm('pkg@latest')!, /@latest/);
    assert.match(npm('pkg@^1.2.0')!, /range/);
    assert.equal(unpinnedReason({ ecosystem: 'pypi', spec: 'mcp-server-time==0.6.2', argIndex: 0 }), undefined);
    assert.match(unpinnedReason({ ecosystem: 'pypi', spec: 'mcp-server-time', argIndex: 0 })!, /no version/);
    assert.equal(
      unpinnedReason({ ecosystem: 'oci', spec: 'mcp/git@sha256:' + 'a'.repeat(64), argIndex: 0 }),
      undefined,
    );
    assert.match(unpinnedReason({ ecosystem: 'oci', spec: 'ghcr.io/a/b', argIndex: 0 })!, /without a tag/);
    for (const p of [
      '/',
      '~',
      '~/',
      '$HOME',
      '${userHome}',
      '/Users/alice',
      '/home/bob/',
      'C:\\',
      'C:\\Users\\bob',
      '/home',
      '/root',
    ])
      assert.ok(isBroadRoot(p), p);
    for (const p of [
      '/home/bob/projects',
      '~/notes',
      '/srv/data',
      'C:\\Users\\bob\\code',
      './data',
      '${workspaceFolder}',
    ])
      assert.ok(!isBroadRoot(p), p);
  });

  test('control characters and bidirectional overrides in names are not printed raw', async () => {
    const f = join(tmp.dir, 'odd', '.mcp.json');
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(
      f,
      JSON.stringify({ mcpServers: { 'evil\u001b[2J\u202ename': { command: 'npx', args: ['-y', 'pkg'] } } }),
    );
    const r = await scan({ paths: [f], home: '/nowhere', cwd: tmp.dir });
    const text = renderText(r, { cwd: tmp.dir, version: 't' });
    assert.match(text, /evil\?\[2J\?name/);
    assert.ok(!text.includes('\u001b') && !text.includes('\u202e'));
  });

  test('a file named on the command line that is not a client config is skipped, with the reason', async () => {
    const f = join(tmp.dir, 'package.json');
    writeFileSync(f, JSON.stringify({ name: 'x', scripts: {} }));
    const r = await scan({ paths: [f], home: '/nowhere', cwd: tmp.dir });
    assert.equal(r.configs.length, 0);
    assert.match(r.unreadable[0]!.reason, /not an MCP client config/);
  });
});
