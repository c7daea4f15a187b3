/**
 * `warden secret set|rotate|list|rm|rotate-master`: the secrets vault from the command line. Values are read
 * from standard input only (never argv, where `ps` and shell history would show them) and are never printed;
 * `list` shows metadata. Exit codes: 0 done, 1 refused or failed (no such secret, wrong master key, tampered
 * row, store error), 2 bad usage or configuration (bad name, missing or malformed key, bad config).
 */
import { existsSync } from 'node:fs';
import { ConfigError, loadConfig, resolveStoreSpec, type LoadedConfig } from '../config/index.js';
import {
  DEFAULT_MAX_VALUE_BYTES,
  describeScope,
  describeSecret,
  InvalidSecretValue,
  listSecrets,
  loadMasterKeys,
  loadNewMasterKey,
  masterKeyId,
  MasterKeyRing,
  toIdentity,
  Vault,
  VaultError,
  type SecretMetadata,
  type SecretRef,
} from '../credentials/index.js';
import { openStore, parseStoreSpec, type Store } from '../store/index.js';
import { rewrapSigningKeys } from '../identity/signing-keys.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './exit.js';

export interface SecretIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export interface ScopeOptions {
  config: string;
  tenant?: string;
  env?: string;
  upstream?: string;
  json?: boolean;
}

export type ListOptions = ScopeOptions;

export interface RotateMasterOptions {
  config: string;
  newKeyFile?: string;
  batchSize?: string;
  json?: boolean;
}


/** The store does not exist yet: nothing has been stored. */
class NoStore extends Error {}

const processIo = (): SecretIo => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
const refOf = (name: string, o: ScopeOptions): SecretRef => ({ name, tenant: o.tenant, environment: o.env, upstream: o.upstream });
const USAGE_CODES = new Set(['vault_master_key_missing', 'vault_master_key_invalid', 'vault_invalid_ref', 'vault_invalid_value']);

/** Runs one subcommand: reports its error on stderr (never a value: no error carries one) and returns the exit code. */
async function runCommand(what: string, io: SecretIo, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return EXIT_OK;
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof ConfigError || (err instanceof VaultError && USAGE_CODES.has(err.code));
    const code = err instanceof VaultError ? ` [${err.code}]` : '';
    io.stderr.write(`warden secret ${what}: ${err instanceof Error ? err.message : String(err)}${code}\n`);
    return usage ? EXIT_USAGE : EXIT_FAILED;
  }
}

/** Opens the configured store (creating a SQLite file only when `create`) and runs `fn`. */
async function withStore(loaded: LoadedConfig, create: boolean, fn: (store: Store) => Promise<void>): Promise<void> {
  const spec = resolveStoreSpec(loaded.config.store, loaded.baseDir);
  const parsed = parseStoreSpec(spec);
  if (!create && parsed.kind === 'sqlite' && parsed.path !== ':memory:' && !existsSync(parsed.path)) throw new NoStore(`no store at ${parsed.path}`);
  const store = await openStore(spec, { createDir: create });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

/** The configured master keys: the current one and those still accepted for reading. */
const configuredKeys = ({ config, baseDir }: LoadedConfig, env: NodeJS.ProcessEnv) =>
  loadMasterKeys({ env, masterKeyFile: config.vault.masterKeyFile, previousKeyFiles: config.vault.previousKeyFiles, baseDir });

/** Opens the store and the vault with the configured master keys (loaded first: a missing key touches nothing). */
async function withVault(opts: { config: string }, io: SecretIo, create: boolean, fn: (vault: Vault) => Promise<void>): Promise<void> {
  const loaded = loadConfig(opts.config);
  const keys = configuredKeys(loaded, io.env);
  try {
    await withStore(loaded, create, async (store) => {
      const vault = await Vault.open(store.secrets, keys);
      try {
        await fn(vault);
      } finally {
        vault.close();
      }
    });
  } finally {
    for (const k of [keys.current, ...keys.previous]) k.fill(0);
  }
}

/** Reads the value from stdin to EOF, dropping one trailing newline. The caller zeroes the result. */
export async function readValue(stdin: SecretIo['stdin'], maxBytes = DEFAULT_MAX_VALUE_BYTES): Promise<Buffer> {
  if (stdin.isTTY) {
    throw new UsageError('the value is read from standard input, which is a terminal: pipe it in, e.g. `printf %s "$TOKEN" | warden secret set NAME` or `warden secret set NAME < file`');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stdin) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      chunks.push(b);
      total += b.length;
      if (total > maxBytes + 2) throw new InvalidSecretValue(`a secret value must be at most ${maxBytes} bytes`);
    }
    const all = Buffer.concat(chunks, total);
    const end = all.subarray(-2).equals(Buffer.from('\r\n')) ? total - 2 : all[total - 1] === 0x0a ? total - 1 : total;
    const value = Buffer.from(all.subarray(0, end));
    all.fill(0);
    return value;
  } finally {
    for (const c of chunks) c.fill(0);
  }
}

async function write(what: 'set' | 'rotate', name: string, opts: ScopeOptions, io: SecretIo): Promise<number> {
  return runCommand(what, io, async () => {
    const id = toIdentity(refOf(name, opts)); // a bad name fails before stdin is read
    const value = await readValue(io.stdin);
    try {
      await withVault(opts, io, what === 'set', async (vault) => {
        const { version } = what === 'set' ? await vault.set(id, value) : await vault.rotate(id, value);
        const verb = what === 'set' ? 'stored' : 'rotated';
        if (opts.json) io.stdout.write(JSON.stringify({ ...id, version, keyId: vault.keyId }) + '\n');
        else io.stdout.write(`${verb} secret ${describeSecret(id)}: version ${version}, master key ${vault.keyId}\n`);
      });
    } catch (err) {
      if (err instanceof NoStore) throw new VaultError('vault_not_found', `no secret ${describeSecret(id)} (${err.message})`);
      throw err;
    } finally {
      value.fill(0);
    }
  });
}

/** `warden secret set NAME`: stores stdin as the next version (1 if new). */
export const secretSet = (name: string, opts: ScopeOptions, io = processIo()): Promise<number> => write('set', name, opts, io);

/** `warden secret rotate NAME`: stores stdin as the next version of an existing secret. */
export const secretRotate = (name: string, opts: ScopeOptions, io = processIo()): Promise<number> => write('rotate', name, opts, io);

/** `warden secret rm NAME`: deletes every version. */
export function secretRm(name: string, opts: ScopeOptions, io = processIo()): Promise<number> {
  return runCommand('rm', io, async () => {
    const id = toIdentity(refOf(name, opts));
    let removed = false;
    await withVault(opts, io, false, async (vault) => {
      removed = await vault.remove(id);
    }).catch((err: unknown) => {
      if (!(err instanceof NoStore)) throw err;
    });
    if (!removed) throw new VaultError('vault_not_found', `no secret ${describeSecret(id)}`);
    io.stdout.write(opts.json ? JSON.stringify({ ...id, removed: true }) + '\n' : `removed secret ${describeSecret(id)}\n`);
  });
}

/** `warden secret list`: metadata of the latest version of each secret. Needs no master key. */
export function secretList(opts: ListOptions, io = processIo()): Promise<number> {
  return runCommand('list', io, async () => {
    const filter = { tenant: opts.tenant, environment: opts.env, upstream: opts.upstream };
    let rows: SecretMetadata[] = [];
    let location = '';
    await withStore(loadConfig(opts.config), false, async (store) => {
      location = store.location;
      rows = await listSecrets(store.secrets, filter);
    }).catch((err: unknown) => {
      if (!(err instanceof NoStore)) throw err;
      location = err.message;
    });
    if (opts.json) {
      for (const r of rows) io.stdout.write(JSON.stringify(r) + '\n');
      return;
    }
    if (rows.length === 0) {
      io.stdout.write(`no secrets (${location})\n`);
      return;
    }
    const table = [['NAME', 'SCOPE', 'VERSION', 'MASTER KEY', 'UPDATED'], ...rows.map((r) => [r.name, describeScope(r), String(r.version), r.keyId, r.updatedAt])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    for (const row of table) io.stdout.write(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
  });
}

/** `warden secret rotate-master`: re-wraps every data key under the new master key, from any configured key. Resumable. */
export function secretRotateMaster(opts: RotateMasterOptions, io = processIo()): Promise<number> {
  return runCommand('rotate-master', io, async () => {
    const batchSize = opts.batchSize === undefined ? 100 : Number(opts.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new UsageError('--batch-size must be a whole number from 1 to 10000');
    const newKey = loadNewMasterKey(io.env, opts.newKeyFile);
    try {
      const loaded = loadConfig(opts.config);
      const old = configuredKeys(loaded, io.env);
      const oldKeys = [old.current, ...old.previous];
      try {
        // The configured keys are the ones to rotate from: the current one (config not switched yet), or the
        // previous ones (replicas already given the new key as current, as for a rotation without downtime).
        const newId = masterKeyId(newKey);
        if (oldKeys.every((k) => masterKeyId(k) === newId)) {
          throw new UsageError(`the new master key is the only configured key (${newId}): nothing to rotate from; configure the old key as current or previous`);
        }
        await withStore(loaded, false, async (store) => {
          const onBatch = ({ rewrapped }: { rewrapped: number }): void => void io.stderr.write(`re-wrapped ${rewrapped} data keys so far\n`);
          const r = await Vault.rotateMasterKey(store.secrets, oldKeys, newKey, { batchSize, onBatch });
          // The signing keys of tokens and checkpoints too (and any still in clear are sealed).
          const ring = MasterKeyRing.from({ current: newKey, previous: oldKeys });
          let signing;
          try {
            signing = await rewrapSigningKeys(store.keys, ring, new Date().toISOString());
          } finally {
            ring.close();
          }
          const signingKeys = signing.rewrapped.length + signing.sealed.length;
          if (opts.json) io.stdout.write(JSON.stringify({ rewrapped: r.rewrapped, signingKeys, keyId: r.keyId }) + '\n');
          else io.stdout.write(
            `master key rotation complete: ${r.rewrapped} data keys and ${signingKeys} signing keys re-wrapped; every secret and signing key is now wrapped by master key ${r.keyId}.\n` +
              'Make the new key the current one (WARDEN_MASTER_KEY or vault.masterKeyFile) on every replica, then retire the old key.\n',
          );
        });
      } finally {
        for (const k of oldKeys) k.fill(0);
      }
    } finally {
      newKey.fill(0);
    }
  });
}
