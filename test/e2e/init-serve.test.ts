/**
 * Configs work from anywhere: `warden init` in one folder, `warden serve` started from another, and a client
 * sees the tools (the stdio server runs in the config's folder, so its `./data` is the one init made). An
 * upstream that cannot start is a warning with its own last stderr lines, not a debug line.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertBuilt, connectClient, devConfig, resultText, runWarden, startWarden, tempDir, writeConfig } from '../helpers/e2e.js';

const home = tempDir('warden-init-home-');
const elsewhere = tempDir('warden-init-elsewhere-');
before(() => assertBuilt());
after(() => {
  home.remove();
  elsewhere.remove();
});

test('warden init in one folder, warden serve from another: the client sees the tools', async () => {
  const proj = join(home.dir, 'proj');
  const init = await runWarden(['init', '--dir', proj], { cwd: home.dir });
  assert.equal(init.code, 0, init.stderr);
  const configFile = join(proj, 'warden.yaml');
  const text = readFileSync(configFile, 'utf8');
  assert.doesNotMatch(text.replace(/^\s*#.*$/gm, ''), /npx/, 'init runs the installed filesystem server, not an npx download');
  assert.match(text, /"\.\/data"/, 'the data folder stays relative to the config');
  writeFileSync(configFile, text.replace('listen: 127.0.0.1:7400', 'listen: 127.0.0.1:0'));
  writeFileSync(join(proj, 'data', 'hello.txt'), 'found from anywhere\n');

  const warden = await startWarden(configFile, { cwd: elsewhere.dir });
  try {
    const client = await connectClient(warden.url);
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      assert.ok(names.includes('read_text_file'), `tools seen: ${names.join(', ') || '(none)'}\n${warden.stderr()}`);
      const read = await client.callTool({ name: 'read_text_file', arguments: { path: join(proj, 'data', 'hello.txt') } });
      assert.match(resultText(read), /found from anywhere/);
    } finally {
      await client.close();
    }
  } finally {
    await warden.stop();
  }
});

test('an upstream that fails to start is a warning carrying its last stderr lines and how it exited', async () => {
  const script = "console.error('starting the broken server'); console.error('cannot open ./missing.db: no such file'); process.exit(3)";
  const configFile = writeConfig(elsewhere.dir, devConfig({ broken: { command: process.execPath, args: ['-e', script] } }, { log: { level: 'warn' } }), 'broken.yaml');
  const warden = await startWarden(configFile, { cwd: home.dir });
  try {
    const client = await connectClient(warden.url);
    try {
      assert.deepEqual((await client.listTools()).tools, []);
    } finally {
      await client.close();
    }
    const warnings = warden
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; upstream?: string; stderr?: string; reason?: string })
      .filter((l) => l.upstream === 'broken' && l.level === 40);
    const first = warnings[0];
    assert.ok(first, `no warning for the broken upstream:\n${warden.stderr()}`);
    assert.match(first.stderr ?? '', /cannot open \.\/missing\.db: no such file/);
    assert.match(first.stderr ?? '', /exited with code 3/);
  } finally {
    await warden.stop();
  }
});
