/**
 * The policy set in force, read from files and replaced atomically when they change. A change that does
 * not load (a syntax error, a policy the schema refuses, a file gone) keeps the last good set; the caller
 * hears why. Each decision reads `current` once, so a request is judged by one whole set.
 */
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { PolicyLoadError } from './errors.js';
import { loadGatewayPolicy, type GatewayPolicy } from './gateway-policy.js';
import type { PolicySource } from './load.js';

export interface PolicyFilesOptions {
  /** Policy files or directories (every `*.cedar` in them), relative to `baseDir`. */
  files: readonly string[];
  baseDir: string;
  arguments?: Readonly<Record<string, string>> | undefined;
  pathArguments?: readonly string[] | undefined;
}

export type ReloadResult = { ok: true; changed: boolean; version: string } | { ok: false; error: PolicyLoadError };

/** Reads the configured files in order; a directory contributes its `*.cedar` files sorted by name. */
export function readPolicySources(files: readonly string[], baseDir: string): PolicySource[] {
  const out: PolicySource[] = [];
  for (const entry of files) {
    const path = resolve(baseDir, entry);
    try {
      const paths = statSync(path).isDirectory()
        ? readdirSync(path)
            .filter((f) => f.endsWith('.cedar'))
            .sort()
            .map((f) => join(path, f))
        : [path];
      for (const p of paths) out.push({ name: relative(baseDir, p) || basename(p), text: readFileSync(p, 'utf8') });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new PolicyLoadError('policy_file', [{ location: entry, message: `cannot read the policy file (${code})` }]);
    }
  }
  return out;
}

export function loadPolicyFiles(opts: PolicyFilesOptions): GatewayPolicy {
  return loadGatewayPolicy({ sources: readPolicySources(opts.files, opts.baseDir), arguments: opts.arguments, pathArguments: opts.pathArguments });
}

export class LivePolicy {
  private policy: GatewayPolicy;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** Throws PolicyLoadError when the files do not load: a gateway does not start on a broken policy. */
  constructor(private readonly opts: PolicyFilesOptions) {
    this.policy = loadPolicyFiles(opts);
  }

  get current(): GatewayPolicy {
    return this.policy;
  }

  /** Reads the files again; swaps the set only if it loads. */
  reload(): ReloadResult {
    try {
      const next = loadPolicyFiles(this.opts);
      const changed = next.version !== this.policy.version;
      if (changed) this.policy = next;
      return { ok: true, changed, version: next.version };
    } catch (err) {
      if (err instanceof PolicyLoadError) return { ok: false, error: err };
      throw err;
    }
  }

  /** Reloads shortly after any policy file changes (editors replace files, so the directories are watched). */
  watch(onReload: (r: ReloadResult) => void, debounceMs = 100): void {
    const dirs = new Map<string, Set<string> | 'all'>();
    for (const entry of this.opts.files) {
      const path = resolve(this.opts.baseDir, entry);
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        /* a missing file is reported by reload */
      }
      if (isDir) dirs.set(path, 'all');
      else {
        const names = dirs.get(dirname(path));
        if (names !== 'all') dirs.set(dirname(path), new Set([...(names ?? []), basename(path)]));
      }
    }
    for (const [dir, names] of dirs) {
      const w = watch(dir, (_event, file) => {
        const name = file === null ? null : String(file);
        if (names !== 'all' && name !== null && !names.has(name)) return;
        if (names === 'all' && name !== null && !name.endsWith('.cedar')) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => onReload(this.reload()), debounceMs);
      });
      w.on('error', () => undefined);
      this.watchers.push(w);
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
