/**
 * The rules every command of the real binary follows, checked for every command the program defines (so a
 * new command is checked too): an unknown option and a bad option value exit 2 with the usage; a read
 * command on a folder whose store does not exist yet prints an empty result (nothing from SQLite) and
 * creates nothing; `serve` runs ./warden.yaml when given no -c; `--json` output is JSON lines.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { assertBuilt, connectClient, devConfig, runWarden, startWarden, tempDir, writeConfig } from '../helpers/e2e.js';
import { everythingStdio } from '../helpers/servers.js';

/** Every runnable command as argv, with its required arguments and options filled with a placeholder. */
function leafCommands(cmd: Command = buildProgram(), path: string[] = []): { name: string; argv: string[]; cmd: Command }[] {
  if (cmd.commands.length > 0) return cmd.commands.filter((c) => c.name() !== 'help').flatMap((c) => leafCommands(c, [...path, c.name()]));
  const args = cmd.registeredArguments.filter((a) => a.required).map(() => 'x');
  const required = cmd.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, 'x']);
  return [{ name: path.join(' '), argv: [...path, ...args, ...required], cmd }];
}

const noStack = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+/, `a stack trace was printed:\n${stderr}`);

describe('every command: usage errors exit 2', () => {
  const tmp = tempDir();
  const commands = leafCommands();
  before(() => assertBuilt());
  after(() => tmp.remove());

  test('the program has the commands the docs name', () => {
    const names = commands.map((c) => c.name);
    for (const n of ['serve', 'demo', 'connect', 'audit tail', 'audit verify', 'audit trace', 'task start', 'task end', 'approvals approve', 'revoke task', 'revoke list', 'revoke undo', 'secret set', 'policy validate', 'init']) {
      assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);
    }
  });

  test('an unknown option is an error (exit 2, the option named, the usage shown), for every command', async () => {
    for (const c of commands) {
      const r = await runWarden([...c.argv, '--no-such-option'], { cwd: tmp.dir });
      assert.equal(r.code, 2, `${c.name}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, /unknown option '--no-such-option'/, c.name);
      assert.match(r.stderr, /Usage: warden /, c.name);
      noStack(r.stderr);
    }
    assert.deepEqual(readdirSync(tmp.dir), [], 'nothing was written by a refused command');
  });

  test('an unknown command, a stray argument and a bad option value exit 2', async () => {
    for (const argv of [['frobnicate'], ['revoke', 'group', 'x'], ['audit', 'tail', 'extra'], ['task', 'list', '--state', 'sleeping'], ['audit', 'tail', '--outcome', 'maybe']]) {
      const r = await runWarden(argv, { cwd: tmp.dir });
      assert.equal(r.code, 2, `${argv.join(' ')}: exit ${r.code}\n${r.stderr}`);
      noStack(r.stderr);
    }
    // Every --limit checks its value.
    for (const c of commands.filter((x) => x.cmd.options.some((o) => o.long === '--limit'))) {
      for (const bad of ['0', 'ten', '-3', '1.5']) {
        const r = await runWarden([...c.argv, '--limit', bad], { cwd: tmp.dir });
        assert.equal(r.code, 2, `${c.name} --limit ${bad}: exit ${r.code}\n${r.stderr}`);
        assert.match(r.stderr, /--limit must be a whole number/);
      }
    }
    const since = await runWarden(['audit', 'tail', '--since', 'yesterday'], { cwd: tmp.dir });
    assert.equal(since.code, 2, since.stderr);
    const help = await runWarden(['task', '--help']);
    assert.equal(help.code, 0);
    assert.equal((await runWarden(['--version'])).code, 0);
  });
});

describe('read commands on a folder with no store yet', () => {
  const tmp = tempDir();
  let config = '';
  before(() => {
    assertBuilt();
    config = writeConfig(tmp.dir, devConfig({}, { store: '.warden/warden.db' }));
  });
  after(() => tmp.remove());

  const READS: string[][] = [
    ['audit', 'tail'],
    ['audit', 'trace', '--agent', 'a'],
    ['task', 'list'],
    ['approvals', 'list'],
    ['approvals', 'list', '--state', 'all'],
    ['revoke', 'list'],
    ['secret', 'list'],
  ];

  test('empty results (exit 0, JSON: no lines), never a SQLite error, and no store created', async () => {
    for (const argv of READS) {
      for (const json of [false, true]) {
        const r = await runWarden([...argv, ...(json ? ['--json'] : []), '-c', config], { cwd: tmp.dir });
        const what = `${argv.join(' ')}${json ? ' --json' : ''}`;
        assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);
        assert.doesNotMatch(r.stdout + r.stderr, /sqlite|SQLITE|unable to open/i, what);
        if (json) assert.equal(r.stdout, '', `${what} prints no JSON line`);
        else assert.match(r.stdout + r.stderr, /^no /m, what);
      }
    }
    assert.ok(!existsSync(join(tmp.dir, '.warden')), 'no store (nor its folder) was created');
  });

  test('the default config is ./warden.yaml; a lookup of one thing fails with exit 1; verify never calls a missing store intact', async () => {
    const list = await runWarden(['task', 'list', '--json'], { cwd: tmp.dir });
    assert.equal(list.code, 0, list.stderr);
    for (const argv of [['task', 'show', 'nope'], ['approvals', 'show', 'nope'], ['revoke', 'undo', 'agent', 'nope', '--reason', 'r'], ['task', 'end', 'nope']]) {
      const r = await runWarden(argv, { cwd: tmp.dir });
      assert.equal(r.code, 1, `${argv.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, /^warden: /m);
      noStack(r.stderr);
    }
    const verify = await runWarden(['audit', 'verify'], { cwd: tmp.dir });
    assert.equal(verify.code, 1);
    assert.match(verify.stderr, /no store at .* yet/);
    assert.ok(!existsSync(join(tmp.dir, '.warden')), 'no store was created');
    const noConfig = await runWarden(['task', 'list'], { cwd: join(tmp.dir, '..') });
    assert.equal(noConfig.code, 2, 'a config that cannot be read is a usage error');
  });
});

describe('warden serve without -c runs ./warden.yaml', () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  test('started in the config folder with no option, it serves that config', async () => {
    assertBuilt();
    writeConfig(tmp.dir, devConfig({ everything: everythingStdio() }));
    const warden = await startWarden('', { args: ['serve'], cwd: tmp.dir });
    try {
      assert.match(warden.stdout(), new RegExp(`config ${join(tmp.dir, 'warden.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      const client = await connectClient(warden.url);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'echo'), tools.map((t) => t.name).join(', '));
      await client.close();
    } finally {
      await warden.stop(5_000);
    }
    const json = await runWarden(['audit', 'tail', '--json'], { cwd: tmp.dir });
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout.split('\n').filter(Boolean);
    assert.ok(lines.length > 0);
    for (const l of lines) assert.equal(typeof (JSON.parse(l) as { method: string }).method, 'string');
  });
});
