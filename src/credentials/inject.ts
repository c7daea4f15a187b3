/**
 * `${secret:NAME}` references in upstream configs: found in stdio `args` and `env` values and in HTTP `url`
 * and `headers` values, resolved against the vault for the server's scope, and substituted into a copy of
 * the config before every (re)connect, so a rotated secret reaches the next connection. Every reference is
 * checked when the gateway starts; a missing secret or master key refuses the start. Messages name the
 * server, the place and the secret, never a value.
 *
 *   const { server, secrets } = await injectSecrets(vault, 'github', cfg.mcpServers.github)
 *   // server.headers.Authorization === 'Bearer ghp_...'; secrets feed the session's Redactor
 */
import { ConfigError } from '../config/load.js';
import { isStdioServer, type ServerConfig, type WardenConfig } from '../config/schema.js';
import type { SecretMetadata, SecretStore } from '../store/types.js';
import type { Logger } from '../telemetry/log.js';
import { MasterKeyMissing, VaultError } from './errors.js';
import { loadMasterKeys, type KeySources } from './key-source.js';
import { describeScope, toIdentity } from './ref.js';
import { MIN_REDACTED_LENGTH, type InjectedSecret } from './redactor.js';
import { Vault } from './vault.js';

const REFERENCE = /\$\{secret:([^}]*)\}/g;
const OPENER = '${secret:';

/** A config with the secrets substituted, and the values that went into it (for redaction). */
export interface PreparedServer {
  server: ServerConfig;
  secrets: InjectedSecret[];
}

/** One `${secret:NAME}` in a server config: where (`env.API_TOKEN`, `args.2`, `url`, `headers.Authorization`) and which. */
export interface SecretUse {
  path: string;
  name: string;
}

/** A reference that cannot be resolved or substituted. Names the server, place and secret; never a value. */
export class SecretInjectionError extends Error {
  override readonly name = 'SecretInjectionError';
  readonly code = 'secret_injection';
  constructor(readonly upstream: string, readonly path: string, readonly detail: string) {
    super(`upstream "${upstream}"${path ? ` ${path}` : ''}: ${detail}`);
  }
}

/** The scope a server's secrets are looked up in: its tenant, its environment (default prod), its name. */
export const serverScope = (upstream: string, server: ServerConfig) => ({ tenant: server.tenant ?? null, environment: server.environment ?? 'prod', upstream });

/** The places secrets are substituted in, as [path, text] pairs. */
function slots(server: ServerConfig): Array<[string, string]> {
  if (isStdioServer(server)) return [...server.args.map((a, i): [string, string] => [`args.${i}`, a]), ...Object.entries(server.env).map(([k, v]): [string, string] => [`env.${k}`, v])];
  return [['url', server.url], ...Object.entries(server.headers).map(([k, v]): [string, string] => [`headers.${k}`, v])];
}

/** Places a reference would be left as text: refused at start rather than silently not substituted. */
function otherText(server: ServerConfig): Array<[string, string]> {
  if (isStdioServer(server)) return [['command', server.command], ['cwd', server.cwd ?? ''], ...Object.keys(server.env).map((k): [string, string] => [`env (the name ${k})`, k])];
  return Object.keys(server.headers).map((k): [string, string] => [`headers (the name ${k})`, k]);
}

/** Every secret reference in a server config, in order. */
export function secretReferences(server: ServerConfig): SecretUse[] {
  return slots(server).flatMap(([path, text]) => [...text.matchAll(REFERENCE)].map((m) => ({ path, name: m[1]! })));
}

/** The secret a reference resolves to: the most specific one whose every scoped dimension equals the server's. */
export async function resolveSecret(vault: Vault, upstream: string, server: ServerConfig, name: string, path = ''): Promise<SecretMetadata> {
  const scope = serverScope(upstream, server);
  const fail = (why: string) => new SecretInjectionError(upstream, path, `secret ${name} ${why}`);
  const matching = (await vault.list({ name: toIdentity({ name }).name })).filter(
    (s) => (s.tenant === null || s.tenant === scope.tenant) && (s.environment === null || s.environment === scope.environment) && (s.upstream === null || s.upstream === scope.upstream),
  );
  const rank = (s: SecretMetadata) => [s.tenant, s.environment, s.upstream].filter((d) => d !== null).length;
  const best = Math.max(-1, ...matching.map(rank));
  const top = matching.filter((s) => rank(s) === best);
  if (top.length === 0) {
    const where = describeScope({ name, tenant: scope.tenant, environment: scope.environment, upstream });
    throw fail(`is not in the vault for this server's scope (${where}); store it with \`warden secret set ${name}\` and a matching or no scope`);
  }
  if (top.length > 1) throw fail(`is ambiguous: ${top.map((s) => describeScope(s)).join(' and ')} match equally; remove one or scope it more narrowly`);
  return top[0]!;
}

/** Characters a value may not carry into its place: NUL anywhere, line breaks in an HTTP header or URL. */
function badCharacters(path: string, value: string): boolean {
  return value.includes('\0') || ((path === 'url' || path.startsWith('headers.')) && /[\r\n]/.test(value));
}

/**
 * A copy of `server` with every `${secret:NAME}` replaced by the resolved value (percent-encoded in `url`),
 * and the values used. Throws SecretInjectionError or a VaultError (their messages hold no value).
 */
export async function injectSecrets(vault: Vault, upstream: string, server: ServerConfig): Promise<PreparedServer> {
  const uses = secretReferences(server);
  if (uses.length === 0) return { server, secrets: [] };
  const values = new Map<string, string>();
  for (const use of uses) {
    if (values.has(use.name)) continue;
    const found = await resolveSecret(vault, upstream, server, use.name, use.path);
    const bytes = await vault.get(found);
    values.set(use.name, bytes.toString('utf8'));
    bytes.fill(0);
  }
  const fill = (path: string, text: string): string =>
    text.replace(REFERENCE, (_m, name: string) => {
      const value = values.get(name)!;
      if (badCharacters(path, value)) throw new SecretInjectionError(upstream, path, `secret ${name} holds a NUL or line break, which cannot go there`);
      return path === 'url' ? encodeURIComponent(value) : value;
    });
  const mapValues = (rec: Record<string, string>, prefix: string) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, fill(`${prefix}.${k}`, v)]));
  const prepared: ServerConfig = isStdioServer(server)
    ? { ...server, args: server.args.map((a, i) => fill(`args.${i}`, a)), env: mapValues(server.env, 'env') }
    : { ...server, url: fill('url', server.url), headers: mapValues(server.headers, 'headers') };
  return { server: prepared, secrets: [...values].map(([name, value]) => ({ name, value })) };
}

const enabledServers = (config: WardenConfig) => Object.entries(config.mcpServers).filter(([, s]) => !s.disabled);

/** True when any enabled server references a secret (or tries to). */
export const usesSecrets = (config: WardenConfig): boolean =>
  enabledServers(config).some(([, s]) => [...slots(s), ...otherText(s)].some(([, text]) => text.includes(OPENER)));

export interface CheckOptions {
  /** Names the config file in messages. */
  source?: string;
  /** Why there is no vault (when `vault` is undefined), for the message. */
  noVault?: string;
}

/**
 * Start-time check: every reference of every enabled server names a valid secret that resolves, unambiguously,
 * for the server's scope and decrypts with the keys given, and sits where it is substituted. Throws one
 * ConfigError listing every problem (server, place, secret; never a value). Returns warnings to log.
 */
export async function checkSecretReferences(config: WardenConfig, vault: Vault | undefined, opts: CheckOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const [upstream, server] of enabledServers(config)) {
    const at = (path: string) => `mcpServers.${upstream}.${path}`;
    for (const [path, text] of otherText(server)) {
      if (text.includes(OPENER)) problems.push(`${at(path)}: secret references are substituted only in args, env values, url and header values`);
    }
    for (const [path, text] of slots(server)) {
      if (text.replace(REFERENCE, '').includes(OPENER)) problems.push(`${at(path)}: an unterminated \${secret:...} reference (write \${secret:NAME})`);
    }
    for (const use of secretReferences(server)) {
      try {
        toIdentity({ name: use.name });
        if (vault === undefined) {
          problems.push(`${at(use.path)}: references secret ${use.name}, but no vault master key is available: ${opts.noVault ?? 'set WARDEN_MASTER_KEY or vault.masterKeyFile'}`);
          continue;
        }
        const found = await resolveSecret(vault, upstream, server, use.name, use.path);
        const bytes = await vault.get(found);
        const value = bytes.toString('utf8');
        bytes.fill(0);
        if (badCharacters(use.path, value)) problems.push(`${at(use.path)}: secret ${use.name} holds a NUL or line break, which cannot go there`);
        if (use.path.startsWith('args.')) warnings.push(`${at(use.path)}: secret ${use.name} in a command-line argument is visible to every local user (ps); prefer env`);
        if (value.length < MIN_REDACTED_LENGTH) {
          warnings.push(`${at(use.path)}: secret ${use.name} is shorter than ${MIN_REDACTED_LENGTH} characters, so it is not redacted from upstream responses`);
        }
      } catch (err) {
        if (!(err instanceof SecretInjectionError || err instanceof VaultError)) throw err;
        const why = err instanceof SecretInjectionError ? err.detail : `secret ${use.name}: ${err.message} [${err.code}]`;
        problems.push(`${at(use.path)}: ${why}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid config ${opts.source ?? 'config'}:\n${[...new Set(problems)].map((p) => `  - ${p}`).join('\n')}`);
  return [...new Set(warnings)];
}

/**
 * The vault for a config's secret references: undefined when nothing is referenced, or when no master key is
 * configured (checkSecretReferences then names each reference). A malformed key file or a wrong key is a
 * ConfigError naming the servers that need the vault.
 */
export async function openVaultForReferences(config: WardenConfig, store: SecretStore, keys: KeySources, source = 'config'): Promise<Vault | undefined> {
  if (!usesSecrets(config)) return undefined;
  try {
    const { current, previous } = loadMasterKeys(keys);
    try {
      return await Vault.open(store, { current, previous });
    } finally {
      [current, ...previous].forEach((k) => k.fill(0));
    }
  } catch (err) {
    if (err instanceof MasterKeyMissing) return undefined;
    if (!(err instanceof VaultError)) throw err;
    const servers = enabledServers(config).filter(([, s]) => secretReferences(s).length > 0).map(([n]) => n);
    throw new ConfigError(`invalid config ${source}:\n  - vault: ${servers.map((s) => `mcpServers.${s}`).join(', ')} reference secrets, but the vault cannot be opened: ${err.message} [${err.code}]`);
  }
}

/** The gateway's prepareServer: injects secrets on each (re)connect; a failure is logged (no value) and refuses that connect. */
export function secretInjector(vault: Vault, log: Logger) {
  return async (upstream: string, server: ServerConfig): Promise<PreparedServer> => {
    try {
      return await injectSecrets(vault, upstream, server);
    } catch (err) {
      log.warn({ upstream, reason: (err as Error).message }, 'upstream secrets could not be injected; the connection is refused');
      throw err;
    }
  };
}
