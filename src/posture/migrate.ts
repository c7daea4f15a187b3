/**
 * `warden migrate FILE`: moves a client's servers behind the gateway. In order, each step safe to repeat:
 *   1. plan   read and scan the client config; plan the warden.yaml entries and the client's new text
 *   2. backup copy both files, as they are, next to them (mode 0600): the client's still holds the secrets
 *   3. vault  store each secret found, scoped to its upstream and environment (an equal value is left as is)
 *   4. gateway-config  write warden.yaml with the servers and their ${secret:...} references (atomic rename)
 *   5. client-config   write the client config with one `warden connect` entry in their place (atomic rename)
 * A run stopped anywhere loses nothing (the client config changes last, and only once the rest is done) and
 * a rerun finishes the job without duplicating anything: stored values compare equal, present entries match.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml, parseDocument } from 'yaml';
import { validateConfig } from '../config/index.js';
import { isGatewayEntry } from './detect-cross.js';
import { unifiedDiff } from './diff.js';
import { classify } from './locations.js';
import { gatewayUrlOf, planGateway } from './migrate-gateway.js';
import { rewriteClient, type ConnectCommand } from './migrate-client.js';
import { unmovable, type MigrationScope, type PendingSecret } from './migrate-plan.js';
import { readCandidate } from './read.js';
import { scrubberOf } from './report-scan.js';
import { scanConfigs } from './scan.js';

export type MigrateStep = 'plan' | 'backup' | 'vault' | 'gateway-config' | 'client-config';

/** The vault, as the migration needs it. `put` says whether it stored a new secret, a new version, or nothing. */
export interface SecretSink {
  put(
    ref: { name: string; upstream: string; environment: string; tenant?: string },
    value: string,
  ): Promise<'created' | 'updated' | 'unchanged'>;
}

export interface MigrateOptions {
  file: string;
  /** The warden.yaml to add the servers to; created when missing. */
  wardenConfig: string;
  scope: MigrationScope;
  /** How the client starts the bridge, up to `connect` (`npx -y -p mcp-warden@1.2.3 warden`). */
  launcher: ConnectCommand;
  /** Arguments after the gateway URL: the agent's credential (`--token-file F`, ...). */
  credentialArgs: string[];
  /** The gateway URL; default: warden.yaml's publicUrl, else http://listen/mcp. */
  gatewayUrl?: string;
  entryName?: string;
  dryRun: boolean;
  home: string;
  /** Opens the vault of the warden config (after it exists on disk). Not called on a dry run. */
  openVault: (wardenConfig: string) => Promise<SecretSink & { close(): Promise<void> }>;
  now?: () => Date;
  /** Called after each step; a test makes one throw to stop the run there. */
  afterStep?: (step: MigrateStep) => void | Promise<void>;
}

export interface MigrateReport {
  file: string;
  wardenConfig: string;
  dryRun: boolean;
  moved: Array<{ clientName: string; name: string; status: 'added' | 'present' }>;
  left: Array<{ name: string; reason: string }>;
  /** Client-side settings of moved servers that have no place in warden.yaml (tool filters, trust, timeouts). */
  dropped: Array<{ name: string; keys: string[] }>;
  secrets: Array<{
    name: string;
    upstream: string;
    environment: string;
    status: 'created' | 'updated' | 'unchanged' | 'planned';
  }>;
  pending: PendingSecret[];
  backups: string[];
  connect: ConnectCommand;
  /** Scrubbed unified diffs (dry run). */
  diff: string;
}

export class MigrateError extends Error {
  override readonly name = 'MigrateError';
}

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/** Writes next to the target and renames over it: readers see the old file or the new one, never half of one. */
function writeAtomic(file: string, text: string): void {
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o600;
  // A fresh name, created exclusively: a file planted at a predictable name is never written through.
  const tmp = join(dirname(file), `.${basename(file)}.warden-tmp-${randomBytes(8).toString('hex')}`);
  writeFileSync(tmp, text, { mode, flag: 'wx' });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/** A copy of the file as it is now; an earlier backup with the same bytes (a rerun) is reused. */
function backup(file: string, now: Date): string {
  const bytes = readFileSync(file);
  const earlier = readdirSync(dirname(file))
    .filter((n) => n.startsWith(`${basename(file)}.warden-backup-`))
    .sort();
  for (const name of earlier) {
    const path = join(dirname(file), name);
    if (readFileSync(path).equals(bytes)) return path;
  }
  for (let k = 1; ; k++) {
    const target = `${file}.warden-backup-${stamp(now)}${k === 1 ? '' : `-${k}`}`;
    if (existsSync(target)) continue;
    writeFileSync(target, bytes, { mode: 0o600, flag: 'wx' });
    return target;
  }
}

export async function migrate(opts: MigrateOptions): Promise<MigrateReport> {
  const now = opts.now ?? (() => new Date());
  const step = async (s: MigrateStep) => opts.afterStep?.(s);
  // 1. plan
  const candidate = classify(opts.file, opts.home) ?? {
    file: opts.file,
    client: 'generic' as const,
    scope: 'project' as const,
  };
  if (candidate.client === 'warden')
    throw new MigrateError(
      `${opts.file} is a warden config: name a client config (claude_desktop_config.json, .cursor/mcp.json, ...)`,
    );
  const read = readCandidate(candidate);
  if ('reason' in read) throw new MigrateError(`cannot migrate ${opts.file}: ${read.reason}`);
  const scan = await scanConfigs(
    { configs: [read.config], unreadable: [], documents: new Map([[read.config.file, read.document]]) },
    { home: opts.home },
  );
  const config = read.config;
  const wardenText = existsSync(opts.wardenConfig) ? readFileSync(opts.wardenConfig, 'utf8') : undefined;
  const knownUrl = opts.gatewayUrl ?? (wardenText === undefined ? undefined : gatewayUrlOf(parseDocument(wardenText)));
  const existingGateway = config.servers.filter((s) => isGatewayEntry(s, knownUrl ? [knownUrl] : []));
  const candidates = config.servers.filter((s) => !existingGateway.includes(s));
  const left = candidates.flatMap((s) => (unmovable(s) ? [{ name: s.name, reason: unmovable(s)! }] : []));
  const movable = candidates
    .filter((s) => !unmovable(s))
    .map((entry) => ({ entry, hits: scan.secrets.get(entry) ?? [] }));
  const gateway = planGateway(wardenText, config, movable, opts.scope, opts.home);
  const url = opts.gatewayUrl ?? gateway.url;
  if (url === undefined)
    throw new MigrateError('the warden config listens on port 0: give the gateway URL with --gateway-url');
  const connect: ConnectCommand = {
    command: opts.launcher.command,
    args: [...opts.launcher.args, 'connect', url, ...opts.credentialArgs],
  };
  const taken = new Set(config.servers.filter((s) => !movable.some((m) => m.entry === s)).map((s) => s.name));
  const entryName = opts.entryName ?? (taken.has('warden') ? 'warden-gateway' : 'warden');
  const clientText = rewriteClient(
    read.document,
    config,
    movable.map((m) => m.entry),
    connect,
    entryName,
    existingGateway,
  );
  validateConfig(parseYaml(gateway.text), opts.wardenConfig);
  const report: MigrateReport = {
    file: config.file,
    wardenConfig: opts.wardenConfig,
    dryRun: opts.dryRun,
    moved: gateway.servers.map((s) => ({ clientName: s.clientName, name: s.name, status: s.status })),
    left,
    dropped: movable
      .filter((m) => m.entry.extraKeys.length > 0)
      .map((m) => ({ name: m.entry.name, keys: m.entry.extraKeys })),
    secrets: gateway.servers.flatMap((s) =>
      s.secrets.map((x) => ({
        name: x.name,
        upstream: x.upstream,
        environment: opts.scope.environment,
        status: 'planned' as const,
      })),
    ),
    pending: gateway.servers.flatMap((s) => s.pending),
    backups: [],
    connect,
    diff: '',
  };
  await step('plan');
  const gatewayChanged = gateway.text !== wardenText;
  const clientChanged = clientText !== read.document.text;
  if (opts.dryRun) {
    const scrub = scrubberOf(scan.secretValues);
    report.diff = scrub.text(
      unifiedDiff(read.document.text, clientText, config.file, `${config.file} (migrated)`) +
        unifiedDiff(
          wardenText ?? '',
          gateway.text,
          wardenText === undefined ? '/dev/null' : opts.wardenConfig,
          opts.wardenConfig,
        ),
    );
    return report;
  }
  if (!gatewayChanged && !clientChanged) return report;
  const values = gateway.servers.flatMap((s) => s.secrets);
  // The vault is opened before anything is written, so a missing master key stops the run with nothing changed
  // (a new warden.yaml is written first, without servers, so the vault has a config to open).
  if (wardenText === undefined && values.length > 0)
    writeAtomic(opts.wardenConfig, planGateway(undefined, config, [], opts.scope, opts.home).text);
  const vault = values.length > 0 ? await opts.openVault(opts.wardenConfig) : undefined;
  try {
    // 2. backup
    if (clientChanged) report.backups.push(backup(config.file, now()));
    if (gatewayChanged && wardenText !== undefined) report.backups.push(backup(opts.wardenConfig, now()));
    await step('backup');
    // 3. vault
    report.secrets = [];
    for (const v of values) {
      const ref = {
        name: v.name,
        upstream: v.upstream,
        environment: opts.scope.environment,
        ...(opts.scope.tenant ? { tenant: opts.scope.tenant } : {}),
      };
      report.secrets.push({
        name: v.name,
        upstream: v.upstream,
        environment: opts.scope.environment,
        status: await vault!.put(ref, v.value),
      });
    }
  } finally {
    await vault?.close();
  }
  await step('vault');
  // 4. gateway-config
  if (gatewayChanged) writeAtomic(opts.wardenConfig, gateway.text);
  await step('gateway-config');
  // 5. client-config
  if (clientChanged) writeAtomic(config.file, (read.document.bom ? '\uFEFF' : '') + clientText);
  await step('client-config');
  return report;
}
