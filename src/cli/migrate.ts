/**
 * `warden migrate FILE`: moves a client config's servers into warden.yaml and their secrets into the vault,
 * and leaves the client one `warden connect` entry (see src/posture/migrate.ts for the steps and why a
 * stopped run loses nothing). `--dry-run` prints the diff (secrets redacted) and writes nothing.
 * Exit codes: 0 done, 1 failed, 2 bad usage or configuration.
 */
import { timingSafeEqual } from 'node:crypto';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, resolveStoreSpec } from '../config/index.js';
import { loadMasterKeys, SecretNotFound, Vault, VaultError } from '../credentials/index.js';
import { migrate, MigrateError, printable, type MigrateReport, type SecretSink } from '../posture/index.js';
import { openStore } from '../store/index.js';
import type { CliIo } from './scan.js';

export interface MigrateCliOptions {
  config: string;
  env?: string;
  tenant?: string;
  gatewayUrl?: string;
  launcher?: string;
  name?: string;
  dryRun?: boolean;
  json?: boolean;
  tokenFile?: string;
  tokenUrl?: string;
  clientId?: string;
  clientSecretFile?: string;
  privateKey?: string;
  keyId?: string;
  scope?: string;
}

const ENVIRONMENTS = ['prod', 'staging', 'dev', 'sandbox'];
const BIN = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));

/**
 * How the client starts `warden`: this installation's node and script (absolute paths), or a `warden` on PATH.
 * Never `npx`: from a folder without mcp-warden installed it fetches whatever the registry holds under the name.
 */
function launcherOf(kind: string): { command: string; args: string[] } | undefined {
  if (kind === 'node') return { command: process.execPath, args: [BIN] };
  if (kind === 'warden') return { command: 'warden', args: [] };
  return undefined;
}

/** The agent's credential for `warden connect`; file paths made absolute (the client starts it from anywhere). */
function credentialArgs(o: MigrateCliOptions, cwd: string): string[] {
  const file = (p: string) => resolve(cwd, p);
  const pairs: Array<[string, string | undefined]> = [
    ['--token-file', o.tokenFile && file(o.tokenFile)],
    ['--token-url', o.tokenUrl],
    ['--client-id', o.clientId],
    ['--client-secret-file', o.clientSecretFile && file(o.clientSecretFile)],
    ['--private-key', o.privateKey && file(o.privateKey)],
    ['--key-id', o.keyId],
    ['--scope', o.scope],
  ];
  return pairs.flatMap(([flag, v]) => (v ? [flag, v] : []));
}

/** The vault of a warden config, for the migration: `put` stores a value unless the same one is there. */
export async function openMigrationVault(
  configFile: string,
  env: NodeJS.ProcessEnv,
): Promise<SecretSink & { close(): Promise<void> }> {
  const { config, baseDir } = loadConfig(configFile);
  const keys = loadMasterKeys({
    env,
    masterKeyFile: config.vault.masterKeyFile,
    previousKeyFiles: config.vault.previousKeyFiles,
    baseDir,
  });
  const store = await openStore(resolveStoreSpec(config.store, baseDir), { createDir: true });
  let vault: Vault;
  try {
    vault = await Vault.open(store.secrets, keys);
  } catch (err) {
    await store.close();
    throw err;
  } finally {
    for (const k of [keys.current, ...keys.previous]) k.fill(0);
  }
  return {
    async put(ref, value) {
      const wanted = Buffer.from(value, 'utf8');
      try {
        const current = await vault.get(ref);
        const same = current.length === wanted.length && timingSafeEqual(current, wanted);
        current.fill(0);
        if (same) return 'unchanged';
        await vault.set(ref, wanted);
        return 'updated';
      } catch (err) {
        if (!(err instanceof SecretNotFound)) throw err;
        await vault.set(ref, wanted);
        return 'created';
      } finally {
        wanted.fill(0);
      }
    },
    async close() {
      vault.close();
      await store.close();
    },
  };
}

function describe(r: MigrateReport, cfg: string): string {
  const lines = [`warden migrate${r.dryRun ? ' (dry run: nothing written)' : ''}: ${r.file} -> ${r.wardenConfig}`];
  if (r.moved.length === 0 && r.left.length === 0)
    lines.push('nothing to migrate: the client config has no server besides the gateway');
  if (r.moved.length > 0)
    lines.push(
      `servers in warden.yaml: ${r.moved.map((m) => `${m.name}${m.name !== m.clientName ? ` (was "${m.clientName}")` : ''} ${m.status}`).join(', ')}`,
    );
  if (r.secrets.length > 0) {
    lines.push('secrets in the vault (scoped to their upstream and environment; values never shown):');
    for (const s of r.secrets) lines.push(`  ${s.name} (env=${s.environment},upstream=${s.upstream}) ${s.status}`);
  }
  if (r.pending.length > 0) {
    lines.push('the client supplied these at run time; store them before the gateway starts:');
    for (const p of r.pending)
      lines.push(
        `  warden secret set ${p.name} --upstream ${p.upstream} --env ${r.secrets[0]?.environment ?? 'prod'} -c ${cfg}   # was ${p.from}`,
      );
  }
  for (const l of r.left) lines.push(`left in the client config: ${l.name}: ${l.reason}`);
  for (const d of r.dropped) {
    lines.push(
      `not carried over from ${d.name} (client-side; the gateway's policy, approvals and limits decide now): ${d.keys.join(', ')}`,
    );
  }
  if (r.backups.length > 0)
    lines.push(
      `backups (they still hold the secrets in clear: delete them once the gateway works): ${r.backups.join(', ')}`,
    );
  if (r.moved.length > 0) lines.push(`the client now starts: ${[r.connect.command, ...r.connect.args].join(' ')}`);
  if (r.secrets.length > 0 && !r.dryRun)
    lines.push('rotate the moved credentials at their providers: they were written in clear in the client config.');
  if (r.diff) lines.push('', r.diff.trimEnd());
  return lines.join('\n') + '\n';
}

export async function migrateCommand(file: string, opts: MigrateCliOptions, io: CliIo): Promise<number> {
  const environment = opts.env ?? 'prod';
  const launcher = launcherOf(opts.launcher ?? 'node');
  if (!ENVIRONMENTS.includes(environment) || !launcher) {
    io.stderr.write(
      `warden migrate: ${launcher ? `--env must be one of ${ENVIRONMENTS.join(', ')}` : '--launcher must be node or warden'}\n`,
    );
    return 2;
  }
  try {
    const report = await migrate({
      file: resolve(io.cwd, file),
      wardenConfig: resolve(io.cwd, opts.config),
      scope: { environment, ...(opts.tenant ? { tenant: opts.tenant } : {}) },
      launcher,
      credentialArgs: credentialArgs(opts, io.cwd),
      ...(opts.gatewayUrl ? { gatewayUrl: opts.gatewayUrl } : {}),
      ...(opts.name ? { entryName: opts.name } : {}),
      dryRun: opts.dryRun === true,
      home: io.env.HOME ?? io.env.USERPROFILE ?? homedir(),
      openVault: (cfg) => openMigrationVault(cfg, io.env),
    });
    io.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : printable(describe(report, opts.config)));
    return 0;
  } catch (err) {
    const usage =
      err instanceof MigrateError ||
      err instanceof ConfigError ||
      (err instanceof VaultError && /master_key_(missing|invalid)|invalid_ref/.test(err.code));
    io.stderr.write(`warden migrate: ${err instanceof Error ? err.message : String(err)}\n`);
    return usage ? 2 : 1;
  }
}
