/**
 * Where MCP clients keep their configs, and which client a path belongs to. Per-user files are looked for
 * under HOME for every OS layout at once (a scan of a copied home, or of a fixture home, finds them all),
 * plus APPDATA, XDG_CONFIG_HOME and CODEX_HOME when set. Sources, per client, are in docs/posture.md.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { ClientKind, ConfigScope } from './model.js';

export interface Candidate {
  file: string;
  client: ClientKind;
  scope: ConfigScope;
}

export interface LocationEnv {
  home: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

const APP_SUPPORT = join('Library', 'Application Support');
const ROAMING = join('AppData', 'Roaming');
const VSCODE_FLAVOURS = ['Code', 'Code - Insiders', 'VSCodium'];

/** Per-user config files, as absolute paths (most will not exist). */
export function userCandidates({ home, env }: LocationEnv): Candidate[] {
  const configDirs = [join(home, '.config'), join(home, APP_SUPPORT), join(home, ROAMING)];
  if (env.XDG_CONFIG_HOME) configDirs.push(env.XDG_CONFIG_HOME);
  if (env.APPDATA) configDirs.push(env.APPDATA);
  const user = (client: ClientKind, file: string): Candidate => ({ client, file, scope: 'user' });
  const out: Candidate[] = [];
  for (const dir of configDirs) {
    out.push(user('claude-desktop', join(dir, 'Claude', 'claude_desktop_config.json')));
    for (const flavour of VSCODE_FLAVOURS) {
      out.push(
        user('vscode', join(dir, flavour, 'User', 'mcp.json')),
        user('vscode', join(dir, flavour, 'User', 'settings.json')),
      );
    }
    out.push(user('zed', join(dir, 'zed', 'settings.json')), user('zed', join(dir, 'Zed', 'settings.json')));
  }
  out.push(
    user('claude-code', join(home, '.claude.json')),
    user('cursor', join(home, '.cursor', 'mcp.json')),
    user('windsurf', join(home, '.codeium', 'windsurf', 'mcp_config.json')),
    user('codex', join(env.CODEX_HOME ?? join(home, '.codex'), 'config.toml')),
    user('gemini', join(home, '.gemini', 'settings.json')),
    user('continue', join(home, '.continue', 'config.yaml')),
    user('continue', join(home, '.continue', 'config.json')),
  );
  // The same directory can be reached twice (XDG_CONFIG_HOME is ~/.config): one candidate per file.
  return [...new Map(out.map((c) => [resolve(c.file), { ...c, file: resolve(c.file) }])).values()];
}

/** Project files relative to a repository root. */
const PROJECT_FILES: Array<[ClientKind, string]> = [
  ['claude-code', '.mcp.json'],
  ['cursor', join('.cursor', 'mcp.json')],
  ['vscode', join('.vscode', 'mcp.json')],
  ['codex', join('.codex', 'config.toml')],
  ['gemini', join('.gemini', 'settings.json')],
  ['zed', join('.zed', 'settings.json')],
  ['continue', join('.continue', 'config.yaml')],
  ['continue', join('.continue', 'config.json')],
  ['warden', 'warden.yaml'],
  ['warden', 'warden.yml'],
];

export function projectCandidates(root: string): Candidate[] {
  return PROJECT_FILES.map(([client, rel]) => ({
    client,
    file: join(root, rel),
    scope: client === 'warden' ? 'gateway' : 'project',
  }));
}

/** The client a file belongs to by its path alone, or undefined when the path is not a known config location. */
export function classify(file: string, home?: string): Candidate | undefined {
  const abs = resolve(file);
  const parts = abs.split(sep);
  const name = basename(abs);
  const parent = parts[parts.length - 2] ?? '';
  const grand = parts[parts.length - 3] ?? '';
  const inHome = (dir: string) => home !== undefined && dirname(dir) === resolve(home);
  const hit = (client: ClientKind, scope: ConfigScope): Candidate => ({ file: abs, client, scope });
  if (name === 'claude_desktop_config.json') return hit('claude-desktop', 'user');
  if (name === '.claude.json') return hit('claude-code', 'user');
  if (name === '.mcp.json') return hit('claude-code', 'project');
  if (name === 'mcp.json' && parent === '.cursor') return hit('cursor', inHome(dirname(abs)) ? 'user' : 'project');
  if (name === 'mcp.json' && parent === '.vscode') return hit('vscode', 'project');
  if ((name === 'mcp.json' || name === 'settings.json') && parent === 'User' && VSCODE_FLAVOURS.includes(grand))
    return hit('vscode', 'user');
  if (name === 'mcp_config.json' && parent === 'windsurf' && grand === '.codeium') return hit('windsurf', 'user');
  if (name === 'config.toml' && parent === '.codex') return hit('codex', inHome(dirname(abs)) ? 'user' : 'project');
  if (name === 'settings.json' && parent === '.gemini') return hit('gemini', inHome(dirname(abs)) ? 'user' : 'project');
  if (name === 'settings.json' && (parent === 'zed' || parent === 'Zed')) return hit('zed', 'user');
  if (name === 'settings.json' && parent === '.zed') return hit('zed', 'project');
  if ((name === 'config.yaml' || name === 'config.json') && parent === '.continue')
    return hit('continue', inHome(dirname(abs)) ? 'user' : 'project');
  if (/\.(ya?ml|json)$/.test(name) && parent === 'mcpServers' && grand === '.continue') {
    return hit('continue', inHome(dirname(dirname(abs))) ? 'user' : 'project');
  }
  if (/^warden\.(ya?ml|json)$/.test(name)) return hit('warden', 'gateway');
  return undefined;
}

const SKIP_DIRS = new Set([
  'node_modules',
  '.git',
  '.hg',
  '.svn',
  'dist',
  'build',
  'out',
  'target',
  'vendor',
  '.venv',
  'venv',
  '__pycache__',
  '.cache',
  '.warden',
]);
const MAX_DEPTH = 8;
const MAX_ENTRIES = 50_000;

/** Known config files under `root`, found by walking it (bounded in depth and entries, skipping build and VCS folders). */
export function walk(root: string, home?: string): Candidate[] {
  const found: Candidate[] = [];
  let seen = 0;
  const visit = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      if (++seen > MAX_ENTRIES) return;
      const path = join(dir, name);
      let isDir = false;
      try {
        const st = statSync(path);
        isDir = st.isDirectory();
        if (!isDir && !st.isFile()) continue;
      } catch {
        continue;
      }
      if (isDir) {
        if (depth < MAX_DEPTH && !SKIP_DIRS.has(name)) visit(path, depth + 1);
        continue;
      }
      const c = classify(path, home);
      if (c) found.push(c);
    }
  };
  visit(resolve(root), 0);
  return found;
}

/** `.continue/mcpServers/*` block files of a root (user home or project). */
export function continueBlocks(root: string, scope: ConfigScope): Candidate[] {
  const dir = join(root, '.continue', 'mcpServers');
  try {
    return readdirSync(dir)
      .filter((n) => /\.(ya?ml|json)$/.test(n))
      .sort()
      .map((n) => ({ client: 'continue' as const, file: join(dir, n), scope }));
  } catch {
    return [];
  }
}
