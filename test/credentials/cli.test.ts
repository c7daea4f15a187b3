/**
 * `warden secret ...` end to end through the real binary (run `npm run build` first), values piped on stdin.
 * Every stdout and stderr is kept and searched for every value at the end: no value is ever printed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { secretSet } from '../../src/cli/secret.js';
import { masterKeyId, Vault } from '../../src/credentials/index.js';
import { openStore } from '../../src/store/index.js';
import { assertBuilt, tempDir, WARDEN_BIN, writeConfig } from '../helpers/e2e.js';
import { testSchema } from '../helpers/pg-schema.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

const outputs: string[] = [];
const values: string[] = [];
const secretValue = (label: string): string => {
  const v = `${label}-${randomBytes(9).toString('base64url')}`;
  values.push(v);
  return v;
};

/** Runs `node bin/warden.js secret ...args` with `input` on stdin and only the given WARDEN_* variables. */
function warden(args: string[], opts: { cwd: string; input?: string; env?: Record<string, string> }): Promise<Ran> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WARDEN_')));
  const child = spawn(process.execPath, [WARDEN_BIN, 'secret', ...args], { cwd: opts.cwd, env: { ...env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('warden secret (the binary)', () => {
  const tmp = tempDir('warden-secret-cli-');
  const key = randomBytes(32);
  const keyEnv = { WARDEN_MASTER_KEY: key.toString('base64') };
  let cwd = '';
  before(() => {
    assertBuilt();
    cwd = tmp.dir;
    writeConfig(cwd, { store: 'warden.db', vault: {}, mcpServers: {} }); // the key comes from WARDEN_MASTER_KEY
  });
  after(() => {
    // The last word: no command printed any value, in any encoding.
    const all = outputs.join('\n');
    for (const v of values) for (const form of [v, Buffer.from(v).toString('base64'), Buffer.from(v).toString('hex')]) assert.ok(!all.includes(form), `a command printed ${form}`);
    tmp.remove();
  });

  test('set (one trailing newline dropped), list, rotate, rm; the stored value is exactly what was piped', async () => {
    const v1 = secretValue('v1');
    const set = await warden(['set', 'github/token', '--tenant', 'acme', '--upstream', 'github'], { cwd, input: `${v1}\n`, env: keyEnv });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, new RegExp(`stored secret github/token \\(tenant=acme,upstream=github\\): version 1, master key ${masterKeyId(key)}`));
    const crlf = secretValue('crlf');
    assert.equal((await warden(['set', 'crlf'], { cwd, input: `${crlf}\n\n`, env: keyEnv })).code, 0);

    const list = await warden(['list'], { cwd }); // no key needed for metadata
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+SCOPE\s+VERSION\s+MASTER KEY\s+UPDATED$/);
    assert.match(list.stdout, new RegExp(`github/token\\s+tenant=acme,upstream=github\\s+1\\s+${masterKeyId(key)}\\s+\\d{4}-\\d\\d-\\d\\dT`));
    const v2 = secretValue('v2');
    const rot = await warden(['rotate', 'github/token', '--tenant', 'acme', '--upstream', 'github'], { cwd, input: v2, env: keyEnv });
    assert.equal(rot.code, 0, rot.stderr);
    assert.match(rot.stdout, /version 2/);
    const json = await warden(['list', '--json', '--tenant', 'acme'], { cwd });
    assert.deepEqual(json.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { name: string; version: number }).version), [2]);

    const store = await openStore(join(cwd, 'warden.db'));
    const vault = await Vault.open(store.secrets, { current: key });
    assert.equal((await vault.get({ name: 'github/token', tenant: 'acme', upstream: 'github' })).toString(), v2);
    assert.equal((await vault.get({ name: 'crlf' })).toString(), `${crlf}\n`, 'only one newline dropped');
    await store.close();

    const missing = await warden(['rotate', 'nope'], { cwd, input: 'x', env: keyEnv });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no secret nope \(global\) to rotate.*\[vault_not_found\]/);
    assert.equal((await warden(['rm', 'github/token', '--tenant', 'acme', '--upstream', 'github'], { cwd, env: keyEnv })).code, 0);
    const again = await warden(['rm', 'github/token', '--tenant', 'acme', '--upstream', 'github'], { cwd, env: keyEnv });
    assert.equal(again.code, 1);
    assert.doesNotMatch((await warden(['list'], { cwd })).stdout, /github\/token/);
  });

  test('a value on the command line is impossible: no such option, no extra argument, nothing stored or echoed', async () => {
    const v = secretValue('argv');
    for (const args of [['set', 'argv', '--value', v], ['set', 'argv', `--value=${v}`], ['set', 'argv', v], ['set', `-v${v}`, 'argv'], ['rotate', 'argv', v]]) {
      const r = await warden(args, { cwd, input: 'from-stdin', env: keyEnv });
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /unknown option|too many arguments/);
    }
    assert.doesNotMatch((await warden(['list'], { cwd })).stdout, /\bargv\b/);
  });

  test('missing, malformed and wrong master keys: clear errors, exit codes, no row changed', async () => {
    const value = secretValue('keys');
    const none = await warden(['set', 'k'], { cwd, input: value });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no vault master key: set WARDEN_MASTER_KEY .* or vault\.masterKeyFile/);
    const badText = 'not-a-real-key-0123456789';
    const bad = await warden(['set', 'k'], { cwd, input: value, env: { WARDEN_MASTER_KEY: badText } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /WARDEN_MASTER_KEY is malformed/);
    assert.ok(!bad.stderr.includes(badText));

    assert.equal((await warden(['set', 'k'], { cwd, input: value, env: keyEnv })).code, 0);
    const raw = new Database(join(cwd, 'warden.db'), { readonly: true });
    const rows = () => raw.prepare('SELECT * FROM warden_secrets ORDER BY rowid').all();
    const before = rows();
    const wrong = randomBytes(32);
    for (const args of [['set', 'k'], ['set', 'new-one'], ['rotate', 'k'], ['rm', 'k'], ['rotate-master']]) {
      const r = await warden(args, { cwd, input: 'overwrite', env: { WARDEN_MASTER_KEY: wrong.toString('hex'), WARDEN_NEW_MASTER_KEY: randomBytes(32).toString('hex') } });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`wrong master key: stored secrets are wrapped by master key ${masterKeyId(key)}.*\\[vault_wrong_master_key\\]`));
      assert.ok(!r.stderr.includes(wrong.toString('hex')) && !r.stderr.includes(key.toString('base64')));
    }
    assert.deepEqual(rows(), before);
    raw.close();
    const empty = await warden(['set', 'empty'], { cwd, input: '', env: keyEnv });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /must not be empty/);
  });

  test('rotate-master: from a key file in the config to a new key file; the old key is refused after, the new one works', async (t) => {
    const rtmp = tempDir('warden-secret-rot-');
    t.after(() => rtmp.remove());
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    writeFileSync(join(rtmp.dir, 'old.key'), oldKey.toString('hex') + '\n');
    writeFileSync(join(rtmp.dir, 'new.key'), newKey);
    writeConfig(rtmp.dir, { store: 'w.db', vault: { masterKeyFile: 'old.key' }, mcpServers: {} });
    const c = rtmp.dir;
    for (let i = 0; i < 5; i++) assert.equal((await warden(['set', `s${i}`], { cwd: c, input: secretValue(`rot${i}`) })).code, 0);
    const r = await warden(['rotate-master', '--new-key-file', 'new.key', '--batch-size', '2'], { cwd: c });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`5 data keys and 0 signing keys re-wrapped; every secret and signing key is now wrapped by master key ${masterKeyId(newKey)}`));
    assert.match(r.stderr, /re-wrapped 2 data keys so far\n.*re-wrapped 4/s);
    assert.equal((await warden(['list'], { cwd: c })).stdout.split(masterKeyId(newKey)).length, 6);
    const old = await warden(['set', 's0'], { cwd: c, input: 'x' });
    assert.equal(old.code, 1);
    assert.match(old.stderr, /vault_wrong_master_key/);
    writeConfig(rtmp.dir, { store: 'w.db', vault: { masterKeyFile: 'new.key' }, mcpServers: {} });
    const same = await warden(['rotate-master', '--new-key-file', 'new.key'], { cwd: c });
    assert.equal(same.code, 2);
    assert.match(same.stderr, /the new master key is the only configured key/);
    assert.equal((await warden(['rotate', 's0'], { cwd: c, input: secretValue('after') })).code, 0);

    // Without downtime: replicas get the next key as current and the old as previous; rotate-master run
    // with that same config re-wraps from the previous key.
    const next = randomBytes(32);
    writeFileSync(join(c, 'next.key'), next.toString('base64'));
    writeConfig(rtmp.dir, { store: 'w.db', vault: { masterKeyFile: 'next.key', previousKeyFiles: ['new.key'] }, mcpServers: {} });
    assert.equal((await warden(['set', 's9'], { cwd: c, input: secretValue('mid') })).code, 0, 'writes work before the rotation');
    const again = await warden(['rotate-master', '--new-key-file', 'next.key'], { cwd: c });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`6 data keys and 0 signing keys re-wrapped; every secret and signing key is now wrapped by master key ${masterKeyId(next)}`));
  });

  const pgUrl = process.env.WARDEN_TEST_DATABASE_URL;
  test('on a PostgreSQL store: set, rotate and list through the binary', { skip: pgUrl ? false : 'WARDEN_TEST_DATABASE_URL is not set' }, async () => {
    const schema = testSchema(pgUrl!, 'cli');
    const u = new URL(schema.url());
    const ptmp = tempDir('warden-secret-pg-');
    writeConfig(ptmp.dir, { store: u.href, vault: {}, mcpServers: {} });
    try {
      const value = secretValue('pg');
      assert.equal((await warden(['set', 'db/password', '--env', 'prod'], { cwd: ptmp.dir, input: value, env: keyEnv })).code, 0);
      assert.equal((await warden(['rotate', 'db/password', '--env', 'prod'], { cwd: ptmp.dir, input: value + '2', env: keyEnv })).code, 0);
      assert.match((await warden(['list'], { cwd: ptmp.dir })).stdout, /db\/password\s+env=prod\s+2\s/);
      const store = await openStore(u.href);
      assert.equal((await (await Vault.open(store.secrets, { current: key })).get({ name: 'db/password', environment: 'prod' })).toString(), value + '2');
      await store.close();
    } finally {
      await schema.drop();
      ptmp.remove();
    }
  });

  test('stdin that is a terminal is refused with a clear message, before anything is opened', async () => {
    const [out, err] = [new PassThrough(), new PassThrough()];
    let text = '';
    err.on('data', (d: Buffer) => (text += d.toString()));
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const code = await secretSet('tty', { config: join(cwd, 'missing.yaml') }, { stdin, stdout: out, stderr: err, env: {} });
    assert.equal(code, 2);
    assert.match(text, /standard input, which is a terminal: pipe it in/);
  });
});
