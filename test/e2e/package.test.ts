/**
 * The package as users get it. Always: what `npm pack` would ship (the binary, the compiled code, the
 * starter pack, the license; no sources, tests or local state) and that every dependency's install script
 * is reviewed in `allowScripts` (only better-sqlite3's may run). With WARDEN_TEST_PACKAGE=1 (several
 * minutes: dependencies come from the registry and better-sqlite3 may compile): the real tarball installed
 * globally into a temporary prefix, exactly as docs/operations.md says, and its `warden` run from another
 * folder: --version, init, policy test, and serve in front of a reference server a client lists and calls.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connectClient, resultText, run, startWarden, tempDir, writeConfig } from '../helpers/e2e.js';
import { ROOT } from '../helpers/servers.js';

const npm = (args: string[], cwd = ROOT, timeoutMs = 120_000) => run('npm', args, { cwd, timeoutMs });

describe('the npm package', () => {
  test('npm pack ships bin, dist, the starter pack, README and LICENSE; no sources, tests or state', async () => {
    const r = await npm(['pack', '--dry-run', '--json', '--ignore-scripts']);
    assert.equal(r.code, 0, r.stderr);
    const [info] = JSON.parse(r.stdout) as [{ files: { path: string; mode: number }[] }];
    const files = info.files.map((f) => f.path);
    for (const needed of ['bin/warden.js', 'dist/cli/main.js', 'policies/starter/starter.cedar', 'policies/starter/starter.test.yaml', 'README.md', 'LICENSE', 'package.json', 'scripts/prepare.mjs']) {
      assert.ok(files.includes(needed), `${needed} is not in the package`);
    }
    for (const f of files) assert.doesNotMatch(f, /^(src|test|bench|deploy|\.warden|node_modules)\/|\.db$|\.tgz$/, `${f} should not be shipped`);
    const bin = info.files.find((f) => f.path === 'bin/warden.js')!;
    assert.ok((bin.mode & 0o111) !== 0, 'bin/warden.js is executable');
    assert.match(readFileSync(join(ROOT, 'bin/warden.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string; bin: Record<string, string> };
    assert.deepEqual(pkg.bin, { warden: 'bin/warden.js' });
    assert.equal(pkg.license, 'Apache-2.0');
    assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
  });

  test('allowScripts: better-sqlite3 may build, the others are denied, and nothing is left unreviewed', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
    assert.deepEqual(pkg.allowScripts, { 'better-sqlite3': true, esbuild: false, tldjs: false });
    const r = await npm(['approve-scripts', '--allow-scripts-pending']);
    if (r.code !== 0 && /Unknown command/i.test(r.stdout + r.stderr)) return; // an npm before allowScripts (< 11.16)
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /No packages with unreviewed install scripts/);
  });

  describe('installed from the tarball into another folder', { skip: process.env.WARDEN_TEST_PACKAGE === '1' ? false : 'set WARDEN_TEST_PACKAGE=1 (takes minutes)' }, () => {
    const tmp = tempDir('warden-package-');
    after(() => tmp.remove());

    test('npm pack, npm install -g --allow-scripts=better-sqlite3, then warden runs anywhere', { timeout: 20 * 60_000 }, async () => {
      // --ignore-scripts: the pack scripts would delete and rebuild dist/ under tests running alongside;
      // dist/ was built from these sources before the tests (pretest).
      const packed = await npm(['pack', '--ignore-scripts', '--pack-destination', tmp.dir], ROOT, 300_000);
      assert.equal(packed.code, 0, packed.stderr);
      const tarball = readdirSync(tmp.dir).find((f) => f.endsWith('.tgz'))!;
      const prefix = join(tmp.dir, 'prefix');
      const installed = await npm(['install', '-g', '--prefix', prefix, '--allow-scripts=better-sqlite3', '--no-audit', '--no-fund', join(tmp.dir, tarball)], tmp.dir, 18 * 60_000);
      assert.equal(installed.code, 0, installed.stderr);
      const warden = join(prefix, 'bin', 'warden');
      const work = join(tmp.dir, 'elsewhere');
      const version = await run(warden, ['--version'], { cwd: tmp.dir });
      assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);

      const init = await run(warden, ['init', '--dir', work], { cwd: tmp.dir });
      assert.equal(init.code, 0, init.stderr);
      const cases = await run(warden, ['policy', 'test', 'policies/starter.test.yaml'], { cwd: work });
      assert.equal(cases.code, 0, cases.stdout + cases.stderr);
      assert.match(cases.stdout, / passed, 0 failed/);

      // serve, from the install, in front of the reference server the package brought along.
      const memory = join(prefix, 'lib', 'node_modules', 'mcp-warden', 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js');
      assert.ok(existsSync(memory), memory);
      const policy = join(work, 'allow.cedar');
      writeConfig(work, 'permit (principal, action, resource);\n', 'allow.cedar');
      const config = writeConfig(work, { listen: '127.0.0.1:0', auth: { mode: 'none' }, log: { level: 'error' }, policy: { files: [policy] }, mcpServers: { memory: { command: process.execPath, args: [memory], env: { MEMORY_FILE_PATH: join(work, 'memory.jsonl') } } } }, 'serve.yaml');
      const running = await startWarden(config, { args: ['serve', '-c', 'serve.yaml'], cwd: work, bin: warden });
      try {
        const client = await connectClient(running.url);
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === 'read_graph'), tools.map((t) => t.name).join(', '));
        assert.match(resultText(await client.callTool({ name: 'read_graph', arguments: {} })), /entities/);
        await client.close();
      } finally {
        await running.stop(5_000);
      }
      const tail = await run(warden, ['audit', 'tail', '-c', 'serve.yaml', '--json'], { cwd: work });
      assert.equal(tail.code, 0, tail.stderr);
      assert.ok(tail.stdout.split('\n').some((l) => l.includes('"tools/call"')));
    });
  });
});
