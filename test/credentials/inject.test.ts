/**
 * `${secret:NAME}` injection (issue 5 item 3): where references are found, how a name resolves for a server's
 * tenant / environment / upstream (most specific wins, ties refused), what is substituted, and the start-time
 * checks: a missing secret, no master key, a wrong master key. No message ever holds a value.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, validateConfig, type ServerConfig, type WardenConfig } from '../../src/config/index.js';
import { checkSecretReferences, injectSecrets, openVaultForReferences, resolveSecret, secretReferences, SecretInjectionError } from '../../src/credentials/inject.js';
import { Vault, type SecretRef } from '../../src/credentials/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { startTestGateway } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-inject-'));
const key = randomBytes(32);
const keyFile = join(dir, 'master.key');
writeFileSync(keyFile, key.toString('hex'));
let store: Store;
let vault: Vault;
/** Every value stored: none may appear in any message. */
const values: string[] = [];

const config = (mcpServers: Record<string, unknown>, extra: Record<string, unknown> = {}): WardenConfig => validateConfig({ auth: { mode: 'none' }, mcpServers, ...extra }, 'test');
const server = (s: Record<string, unknown>): ServerConfig => config({ x: s }).mcpServers.x!;
const stdio = (env: Record<string, string>, extra: Record<string, unknown> = {}) => server({ command: 'node', env, ...extra });
async function put(ref: SecretRef, value = `v-${randomBytes(8).toString('hex')}`): Promise<string> {
  await vault.set(ref, value);
  values.push(value);
  return value;
}
function noValue(text: string): void {
  for (const v of values) assert.ok(!text.includes(v), `a secret value appears in: ${text}`);
}
async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<string> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e as Error,
  );
  assert.match(err.message, pattern);
  noValue(err.message);
  return err.message;
}

before(async () => {
  store = await openStore(join(dir, 'warden.db'));
  vault = await Vault.open(store.secrets, { current: key });
});
after(async () => {
  vault.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('finding references', () => {
  test('in stdio args and env values, HTTP url and header values; text around them is kept', () => {
    const s = server({ command: 'node', args: ['--token=${secret:a}', 'plain'], env: { A: '${secret:b}', B: 'x ${secret:c} y ${secret:a}' } });
    assert.deepEqual(secretReferences(s), [
      { path: 'args.0', name: 'a' },
      { path: 'env.A', name: 'b' },
      { path: 'env.B', name: 'c' },
      { path: 'env.B', name: 'a' },
    ]);
    const h = server({ url: 'https://h.example/mcp?k=${secret:u}', headers: { Authorization: 'Bearer ${secret:gh/token}' } });
    assert.deepEqual(secretReferences(h), [
      { path: 'url', name: 'u' },
      { path: 'headers.Authorization', name: 'gh/token' },
    ]);
    assert.deepEqual(secretReferences(server({ command: 'node', args: ['$secret:a', '{secret:a}', '${env:A}'] })), []);
  });
});

describe('resolution for a server scope', () => {
  test('unscoped matches anything; the most specific matching scope wins', async () => {
    const global = await put({ name: 'r1' });
    const acme = await put({ name: 'r1', tenant: 'acme' });
    const acmeUp = await put({ name: 'r1', tenant: 'acme', upstream: 'x' });
    await put({ name: 'r1', tenant: 'globex', upstream: 'x', environment: 'prod' });
    const got = async (s: ServerConfig, up = 'x') => (await injectSecrets(vault, up, s)).server as { env: Record<string, string> };
    assert.equal((await got(stdio({ T: '${secret:r1}' }))).env.T, global, 'no tenant: only the unscoped one matches');
    assert.equal((await got(stdio({ T: '${secret:r1}' }, { tenant: 'acme' }), 'other')).env.T, acme);
    assert.equal((await got(stdio({ T: '${secret:r1}' }, { tenant: 'acme' }))).env.T, acmeUp);
    assert.equal((await got(stdio({ T: '${secret:r1}' }, { tenant: 'initech' }))).env.T, global);
  });

  test('environment defaults to prod; a scoped dimension must equal the server', async () => {
    const prod = await put({ name: 'r2', environment: 'prod' });
    const staging = await put({ name: 'r2', environment: 'staging' });
    assert.equal((await injectSecrets(vault, 'x', stdio({ T: '${secret:r2}' }))).secrets[0]!.value, prod);
    assert.equal((await injectSecrets(vault, 'x', stdio({ T: '${secret:r2}' }, { environment: 'staging' }))).secrets[0]!.value, staging);
    await rejects(injectSecrets(vault, 'x', stdio({ T: '${secret:r2}' }, { environment: 'dev' })), /secret r2 is not in the vault for this server's scope \(env=dev,upstream=x\)/);
    await put({ name: 'r3', tenant: 'acme' });
    await rejects(resolveSecret(vault, 'x', stdio({}), 'r3'), /r3 is not in the vault/);
  });

  test('equally specific matches are an error naming the secret and both scopes', async () => {
    await put({ name: 'tie', tenant: 'acme' });
    await put({ name: 'tie', upstream: 'x' });
    const msg = await rejects(injectSecrets(vault, 'x', stdio({ T: '${secret:tie}' }, { tenant: 'acme' })), /secret tie is ambiguous: (tenant=acme and upstream=x|upstream=x and tenant=acme) match equally/);
    assert.match(msg, /^upstream "x" env\.T:/);
    await put({ name: 'tie', tenant: 'acme', upstream: 'x' });
    assert.ok((await injectSecrets(vault, 'x', stdio({ T: '${secret:tie}' }, { tenant: 'acme' }))).secrets.length === 1, 'a more specific one settles it');
  });
});

describe('substitution', () => {
  test('a new config with every reference replaced; the original is untouched; url values are percent-encoded', async () => {
    const a = await put({ name: 's/a' });
    const odd = await put({ name: 's/odd' }, 'p&ss word/+=');
    const s = server({ command: 'node', args: ['--a=${secret:s/a}'], env: { A: 'x${secret:s/a}y${secret:s/a}', B: 'keep ${other}' } });
    const { server: out, secrets } = await injectSecrets(vault, 'x', s);
    assert.deepEqual((out as { args: string[] }).args, [`--a=${a}`]);
    assert.deepEqual((out as { env: Record<string, string> }).env, { A: `x${a}y${a}`, B: 'keep ${other}' });
    assert.deepEqual(secrets, [{ name: 's/a', value: a }]);
    assert.equal((s as { env: Record<string, string> }).env.A, 'x${secret:s/a}y${secret:s/a}');
    const h = await injectSecrets(vault, 'x', server({ url: 'https://h.example/mcp?k=${secret:s/odd}', headers: { 'X-Key': '${secret:s/odd}' } }));
    assert.equal((h.server as { url: string }).url, `https://h.example/mcp?k=${encodeURIComponent(odd)}`);
    assert.equal((h.server as { headers: Record<string, string> }).headers['X-Key'], odd);
  });

  test('each call reads the latest version: a rotated secret reaches the next connection', async () => {
    const v1 = await put({ name: 'rot' });
    const s = stdio({ T: '${secret:rot}' });
    assert.equal((await injectSecrets(vault, 'x', s)).secrets[0]!.value, v1);
    const v2 = `v2-${randomBytes(8).toString('hex')}`;
    values.push(v2);
    await vault.rotate({ name: 'rot' }, v2);
    assert.equal((await injectSecrets(vault, 'x', s)).secrets[0]!.value, v2);
  });

  test('a line break cannot go into a header; a deleted secret fails the connect by name', async () => {
    await put({ name: 'nl' }, 'line-one\r\nX-Evil: 1');
    const err = await injectSecrets(vault, 'x', server({ url: 'https://h.example/', headers: { A: '${secret:nl}' } })).catch((e: unknown) => e as Error);
    assert.ok(err instanceof SecretInjectionError && /secret nl holds a NUL or line break/.test(err.message));
    await put({ name: 'gone' });
    await vault.remove({ name: 'gone' });
    await rejects(injectSecrets(vault, 'x', stdio({ T: '${secret:gone}' })), /upstream "x" env\.T: secret gone is not in the vault/);
  });
});

describe('start-time check', () => {
  test('a missing secret names the server, the place and the secret', async () => {
    const ok = await put({ name: 'present' });
    const cfg = config({ good: { command: 'node', env: { A: '${secret:present}' } }, bad: { url: 'https://h.example/', headers: { Authorization: 'Bearer ${secret:absent/token}' } } });
    const msg = await rejects(checkSecretReferences(cfg, vault, { source: 'warden.yaml' }), /invalid config warden\.yaml:\n {2}- mcpServers\.bad\.headers\.Authorization: secret absent\/token is not in the vault/);
    assert.ok(!msg.includes('mcpServers.good'), 'a resolvable reference is not reported');
    assert.ok(!msg.includes(ok));
  });

  test('references without a vault, in places that are not substituted, unterminated or invalid are all reported', async () => {
    const cfg = config({
      a: { command: 'node ${secret:x}', env: { T: '${secret:present}', U: '${secret:oops', V: '${secret:bad name}' } },
      off: { command: 'node', env: { T: '${secret:absent}' }, disabled: true },
    });
    const msg = await rejects(checkSecretReferences(cfg, undefined), /no vault master key is available/);
    assert.match(msg, /mcpServers\.a\.command: secret references are substituted only in args, env values, url and header values/);
    assert.match(msg, /mcpServers\.a\.env\.T: references secret present, but no vault master key is available: set WARDEN_MASTER_KEY or vault\.masterKeyFile/);
    assert.match(msg, /mcpServers\.a\.env\.U: an unterminated/);
    assert.match(msg, /mcpServers\.a\.env\.V: secret bad name: a secret name is 1-128/);
    assert.ok(!msg.includes('mcpServers.off'), 'a disabled server is not checked');
  });

  test('a value too short to redact, or in argv, is a warning; a config without references needs no vault', async () => {
    await put({ name: 'short' }, 'abc');
    const warnings = await checkSecretReferences(config({ a: { command: 'node', args: ['${secret:short}'] } }), vault);
    assert.deepEqual(warnings, [
      'mcpServers.a.args.0: secret short in a command-line argument is visible to every local user (ps); prefer env',
      'mcpServers.a.args.0: secret short is shorter than 6 characters, so it is not redacted from upstream responses',
    ]);
    const plain = config({ a: { command: 'node', env: { A: '$HOME' } } });
    assert.deepEqual(await checkSecretReferences(plain, undefined), []);
    assert.equal(await openVaultForReferences(plain, store.secrets, { env: {} }), undefined);
  });

  test('opening the vault: no key gives undefined (the check names each reference); a wrong or malformed key refuses', async () => {
    const cfg = config({ gh: { url: 'https://h.example/', headers: { A: '${secret:present}' } } });
    assert.equal(await openVaultForReferences(cfg, store.secrets, { env: {} }), undefined);
    const right = await openVaultForReferences(cfg, store.secrets, { env: {}, masterKeyFile: keyFile });
    assert.ok(right instanceof Vault);
    right.close();
    const wrong = join(dir, 'wrong.key');
    writeFileSync(wrong, randomBytes(32).toString('base64'));
    await rejects(openVaultForReferences(cfg, store.secrets, { env: {}, masterKeyFile: wrong }, 'w.yaml'), /invalid config w\.yaml:\n {2}- vault: mcpServers\.gh reference secrets, but the vault cannot be opened: wrong master key.*\[vault_wrong_master_key\]/s);
    writeFileSync(wrong, 'not a key');
    await rejects(openVaultForReferences(cfg, store.secrets, { env: {}, masterKeyFile: wrong }), /mcpServers\.gh reference secrets, but the vault cannot be opened: .*malformed.*\[vault_master_key_invalid\]/s);
  });
});

describe('the gateway refuses to start', { skip: process.env.WARDEN_MASTER_KEY !== undefined && 'WARDEN_MASTER_KEY is set in this environment' }, () => {
  const dbFile = () => join(dir, 'warden.db');
  const servers = { api: { command: process.execPath, args: ['-e', ''], env: { TOKEN: '${secret:present}', OTHER: '${secret:never/stored}' } } };

  test('with a missing secret, naming the server and the secret', async () => {
    const err = await startTestGateway(servers, { store: dbFile(), vault: { masterKeyFile: keyFile } }).then(
      async (gw) => (await gw.close(), assert.fail('started')),
      (e: unknown) => e as Error,
    );
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /mcpServers\.api\.env\.OTHER: secret never\/stored is not in the vault for this server's scope \(env=prod,upstream=api\)/);
    noValue(err.message);
  });

  test('without a master key, or with a wrong one', async () => {
    const one = { api: { ...servers.api, env: { TOKEN: '${secret:present}' } } };
    await rejects(startTestGateway(one, { store: dbFile(), vault: {} }), /mcpServers\.api\.env\.TOKEN: references secret present, but no vault master key is available/);
    const wrong = join(dir, 'other.key');
    writeFileSync(wrong, randomBytes(32).toString('hex'));
    await rejects(startTestGateway(one, { store: dbFile(), vault: { masterKeyFile: wrong } }), /mcpServers\.api reference secrets, but the vault cannot be opened: wrong master key/);
  });
});
