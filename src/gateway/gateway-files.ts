/**
 * The gateway's own files (config, policies, store, keys, trust anchors, audit log) and the start-time check
 * that no upstream it spawns is pointed at them: a configured root, or a stdio upstream's argument or
 * environment value naming a directory that holds one of them (or the file itself), refuses the start unless
 * that upstream says `allowGatewayFiles: true`. Otherwise a filesystem server given `.` could read the policy
 * and overwrite `warden.yaml`.
 */
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStdioServer, resolveStoreSpec, type ServerConfig, type WardenConfig } from '../config/index.js';

/** One file or directory of the gateway's, and what it is (for messages). */
export interface GatewayFile {
  path: string;
  what: string;
}

/** The real path of `p` where it exists; else the real path of its nearest existing ancestor with the rest appended. */
export function realish(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync.native(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : resolve(realish(parent), basename(abs));
  }
}

/** `inner` is `outer` or lies below it. */
export const within = (inner: string, outer: string): boolean => inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);

/** Every file and directory the gateway trusts or writes, as real absolute paths. */
export function gatewayFiles(config: WardenConfig, baseDir: string, configFile?: string): GatewayFile[] {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const out: GatewayFile[] = [];
  const add = (p: string | undefined, what: string) => {
    if (p !== undefined) out.push({ path: realish(at(p)), what });
  };
  add(configFile, 'its config file');
  for (const f of config.policy?.files ?? []) add(f, 'a policy file');
  const store = resolveStoreSpec(config.store, baseDir);
  if (!/^postgres(ql)?:\/\//.test(store) && store !== ':memory:') for (const suffix of ['', '-wal', '-shm']) add(store + suffix, 'its store');
  add(config.vault.masterKeyFile, 'the vault master key');
  for (const f of config.vault.previousKeyFiles) add(f, 'a previous vault master key');
  add(config.tls?.keyFile, 'its TLS key');
  add(config.tls?.clientCaFile, 'its client CA bundle');
  if (config.auth && config.auth.mode !== 'none') {
    for (const i of config.auth.issuers) add(i.jwksFile, `the keys of issuer ${i.issuer}`);
    add(config.auth.spiffe?.bundleFile, 'its SPIFFE trust bundle');
  }
  add(config.audit.sinks.jsonl?.dir, 'its audit log');
  return out;
}

/** A config value that names a path: absolute, `~`, `.`-relative, a file URI, or an existing entry under `cwd`. */
function pathNamed(value: string, cwd: string): string | undefined {
  const v = value.includes('=') && value.startsWith('-') ? value.slice(value.indexOf('=') + 1) : value;
  if (v === '') return undefined;
  if (/^file:\/\//i.test(v)) {
    try {
      return fileURLToPath(v);
    } catch {
      return undefined;
    }
  }
  if (v === '~' || v.startsWith('~/')) return resolve(homedir(), v.slice(2));
  if (isAbsolute(v) || v === '.' || v === '..' || v.startsWith('./') || v.startsWith('../')) return resolve(cwd, v);
  return existsSync(resolve(cwd, v)) ? resolve(cwd, v) : undefined;
}

/** The directory a stdio upstream runs in (its `cwd` is relative to the gateway's). */
export const upstreamCwd = (server: ServerConfig): string => resolve(isStdioServer(server) && server.cwd !== undefined ? server.cwd : process.cwd());

/**
 * The places of a server config that point it at a path, as [config path, absolute path, whether a directory
 * there counts (roots and arguments) or only the file itself (environment values: HOME is not an invitation)].
 */
export function namedPaths(server: ServerConfig, baseDir: string): Array<[string, string, boolean]> {
  const out: Array<[string, string, boolean]> = [];
  (server.roots ?? []).forEach((r, i) => {
    const p = rootPath(r, baseDir);
    if (p !== undefined) out.push([`roots.${i}`, p, true]);
  });
  if (isStdioServer(server)) {
    const cwd = upstreamCwd(server);
    server.args.forEach((a, i) => {
      const p = pathNamed(a, cwd);
      if (p !== undefined) out.push([`args.${i}`, p, true]);
    });
    for (const [k, v] of Object.entries(server.env)) {
      const p = pathNamed(v, cwd);
      if (p !== undefined) out.push([`env.${k}`, p, false]);
    }
  }
  return out;
}

/** A configured root (a path or file URI, relative to the config file) as an absolute path. */
export function rootPath(root: string, baseDir: string): string | undefined {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(root)) {
    if (!/^file:\/\//i.test(root)) return undefined;
    try {
      return fileURLToPath(root);
    } catch {
      return undefined;
    }
  }
  return resolve(baseDir, root);
}

/**
 * The problems that refuse the start: an upstream pointed at a directory holding one of the gateway's files
 * (or at the file), unless it says `allowGatewayFiles`. Messages name the server, the place and the file.
 */
export function checkGatewayFiles(servers: Readonly<Record<string, ServerConfig>>, baseDir: string, files: readonly GatewayFile[]): string[] {
  const problems: string[] = [];
  for (const [name, server] of Object.entries(servers)) {
    if (server.disabled || server.allowGatewayFiles) continue;
    for (const [place, p, directory] of namedPaths(server, baseDir)) {
      const real = realish(p);
      const hit = files.find((f) => (directory ? within(f.path, real) : f.path === real));
      if (hit !== undefined) {
        problems.push(
          `mcpServers.${name}.${place}: ${real} ${hit.path === real ? 'is' : 'contains'} the gateway's own files (${hit.what}: ${hit.path}); ` +
            'point the upstream at a directory without them, or set allowGatewayFiles: true on it',
        );
      }
    }
  }
  return problems;
}
