/**
 * What the migration of one client config does, decided before anything is written: each server's
 * warden.yaml entry, with every hard-coded secret replaced by a `${secret:SERVER/SLOT}` reference and the
 * value to store for it; client variable references (`${env:X}`, `${input:x}`, `${X}`, `${{ secrets.X }}`)
 * replaced the same way, to be set by the operator; and the servers that cannot move (a Zed extension has
 * no command or URL). Names are deterministic, so a second run plans exactly the same thing.
 */
import { dirname } from 'node:path';
import type { SecretHit } from './detect-secrets.js';
import type { ClientConfig, ServerEntry, Slot } from './model.js';

export interface PlannedSecret {
  /** The vault name, e.g. `github/GITHUB_TOKEN`. */
  name: string;
  upstream: string;
  /** The value found in the client config: stored in the vault, never printed. */
  value: string;
}

export interface PendingSecret {
  name: string;
  upstream: string;
  /** The reference the client resolved itself (`${input:github_pat}`), safe to print. */
  from: string;
}

export interface PlannedServer {
  /** The name in the client config, and the one in warden.yaml (made valid there). */
  clientName: string;
  name: string;
  entry: ServerEntry;
  config: Record<string, unknown>;
  secrets: PlannedSecret[];
  pending: PendingSecret[];
}

export interface MigrationScope {
  environment: string;
  tenant?: string;
}

const SERVER_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
/**
 * A client reference: resolved by the client at run time, so the gateway needs its value in the vault. A
 * warden reference already in a client value (`${secret:X}`, `${lease:X}`) is treated the same way: carried
 * over, it would let a config from anywhere (a cloned repository) name any unscoped secret in the vault.
 */
const CLIENT_REF =
  /\$\{(?:secret|lease):[^}]*\}|\$\{\{[^}]*\}\}|\$\{(?!workspaceFolder\}|userHome\})(?:env:|input:)?[A-Za-z_][A-Za-z0-9_.-]*(?::-[^}]*)?\}|\$[A-Z_][A-Z0-9_]*/g;

/** A valid, separator-free warden server name for a client's server name. */
export function wardenName(clientName: string, separator = '__'): string {
  let n = clientName.replace(/[^a-zA-Z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  while (n.includes(separator)) n = n.split(separator).join('-');
  n = n.slice(0, 64) || 'server';
  return SERVER_NAME.test(n) ? n : 'server';
}

const slotKey = (s: Slot): string => {
  const raw =
    s.kind === 'arg' ? `arg-${s.name}` : s.kind === 'header' ? s.name.toLowerCase() : s.kind === 'url' ? 'url' : s.name;
  return raw.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[-.]+/, '') || 'value';
};

/** Where a project's servers ran: the folder holding .vscode/.cursor/... or the .mcp.json. */
export function projectRoot(config: ClientConfig): string | undefined {
  if (config.scope !== 'project') return undefined;
  const dir = dirname(config.file);
  return /[\\/]\.(vscode|cursor|zed|gemini|codex)$/.test(dir)
    ? dirname(dir)
    : /[\\/]\.continue([\\/]mcpServers)?$/.test(dir)
      ? dir.replace(/[\\/]\.continue([\\/]mcpServers)?$/, '')
      : dir;
}

/**
 * What clients fill in themselves, resolved for the gateway: the workspace and home folders, and
 * `${X:-default}` to its default (the gateway has no X to read).
 */
function resolvePaths(text: string, root: string | undefined, home: string): string {
  const out = text
    .replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}/g, '$1')
    .replace(/\$\{userHome\}|\$\{env:HOME\}|\$\{HOME\}|\$HOME\b/g, home)
    .replace(/^~(?=[\\/]|$)/, home);
  return root === undefined ? out : out.replace(/\$\{workspaceFolder\}/g, root);
}

export function planServer(
  config: ClientConfig,
  entry: ServerEntry,
  hits: SecretHit[],
  name: string,
  scope: MigrationScope,
  home: string,
): PlannedServer {
  const root = projectRoot(config);
  const secrets: PlannedSecret[] = [];
  const pending: PendingSecret[] = [];
  const used = new Set<string>();
  const unique = (base: string): string => {
    let n = base;
    for (let k = 2; used.has(n); k++) n = `${base}-${k}`;
    used.add(n);
    return n;
  };
  /** The text of one slot with its client references and then its secrets replaced (in that order: the
   *  references inserted for secrets must not be taken for client ones). */
  const rewrite = (slot: Slot | undefined, text: string, fallback = 'value'): string => {
    const key = `${name}/${slot ? slotKey(slot) : fallback.replace(/[^A-Za-z0-9_.-]+/g, '-')}`;
    let out = resolvePaths(text, root, home).replace(CLIENT_REF, (ref) => {
      const n = unique(key);
      pending.push({ name: n, upstream: name, from: ref });
      return `\${secret:${n}}`;
    });
    const hit = slot && hits.find((h) => h.slot === slot);
    for (const value of hit?.secrets ?? []) {
      // Replaced outside the references only; a value inside a longer secret is gone with it.
      const parts = out.split(/(\$\{secret:[^}]*\})/);
      if (!parts.some((p, i) => i % 2 === 0 && p.includes(value))) continue;
      const n = unique(key);
      secrets.push({ name: n, upstream: name, value });
      out = parts.map((p, i) => (i % 2 === 0 ? p.split(value).join(`\${secret:${n}}`) : p)).join('');
    }
    return out;
  };
  const slotOf = (kind: Slot['kind'], slotName: string) =>
    entry.slots.find((s) => s.kind === kind && s.name === slotName);
  const cfg: Record<string, unknown> = {};
  if (entry.command !== undefined) {
    cfg.command = resolvePaths(entry.command, root, home);
    cfg.args = entry.args.map((a, i) => rewrite(slotOf('arg', String(i)), a));
    const env = Object.fromEntries(Object.entries(entry.env).map(([k, v]) => [k, rewrite(slotOf('env', k), v)]));
    if (Object.keys(env).length > 0) cfg.env = env;
    const cwd = entry.cwd !== undefined ? resolvePaths(entry.cwd, root, home) : root;
    if (cwd !== undefined) cfg.cwd = cwd;
  } else if (entry.url !== undefined) {
    const urlSlot = entry.slots.find((s) => s.kind === 'url');
    cfg.url = rewrite(urlSlot, entry.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(entry.headers)) {
      // Codex's inline bearer_token became this header; its slot is the setting it came from.
      headers[k] = rewrite(slotOf('header', k) ?? slotOf('setting', 'bearer_token'), v, k.toLowerCase());
    }
    if (Object.keys(headers).length > 0) cfg.headers = headers;
    if (entry.transport === 'sse') cfg.transport = 'sse';
  }
  if (entry.disabled) cfg.disabled = true;
  cfg.environment = scope.environment;
  if (scope.tenant !== undefined) cfg.tenant = scope.tenant;
  return { clientName: entry.name, name, entry, config: cfg, secrets, pending };
}

/** Why a server cannot be moved, or undefined. */
export function unmovable(entry: ServerEntry): string | undefined {
  if (entry.command === undefined && entry.url === undefined) {
    return 'it has no command or URL (an editor extension): configure it in warden.yaml by hand';
  }
  if (entry.extraKeys.includes('envFile'))
    return 'it reads its environment from an env file (envFile): move it by hand';
  return undefined;
}
