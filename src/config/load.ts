/** Loads a YAML or JSON config file and validates it; a bad config fails with the file, the path and what is wrong. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describeIssues } from './messages.js';
import { ConfigSchema, isStdioServer, type WardenConfig } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadedConfig {
  config: WardenConfig;
  /** Absolute path of the file it came from. */
  file: string;
  /** Directory relative paths in the config are resolved against. */
  baseDir: string;
}

/** Validates an already-parsed config object. `source` names where it came from, for messages. */
export function validateConfig(value: unknown, source: string): WardenConfig {
  const result = ConfigSchema.safeParse(value);
  if (!result.success) {
    const lines = describeIssues(result.error.issues, value, ConfigSchema).map((l) => `  - ${l}`).join('\n');
    throw new ConfigError(`invalid config ${source}:\n${lines}`);
  }
  return result.data;
}

export function loadConfig(file: string): LoadedConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`cannot read config ${abs}: ${code}`);
  }
  let value: unknown;
  try {
    value = abs.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`cannot parse config ${abs}: ${(err as Error).message}`);
  }
  const baseDir = dirname(abs);
  return { config: resolveServerPaths(validateConfig(value, abs), baseDir), file: abs, baseDir };
}

/**
 * Every stdio upstream runs in a directory relative to the config file: its `cwd` when given (relative
 * paths resolved against the config's directory), else the config's directory itself. So relative paths in
 * its `command` and `args` (`./data`, `./server.js`) mean the same wherever the gateway is started from,
 * without guessing which arguments are paths (`-y`, a package name, a URL are left alone).
 */
export function resolveServerPaths(config: WardenConfig, baseDir: string): WardenConfig {
  const mcpServers = Object.fromEntries(
    Object.entries(config.mcpServers).map(([name, s]) => [name, isStdioServer(s) ? { ...s, cwd: resolve(baseDir, s.cwd ?? '.') } : s]),
  );
  return { ...config, mcpServers };
}

/** The SQLite path resolved against the config's directory; PostgreSQL URLs pass unchanged. */
export function resolveStoreSpec(store: string, baseDir: string): string {
  if (/^postgres(ql)?:\/\//.test(store) || store === ':memory:') return store;
  const path = store.startsWith('sqlite:') ? store.slice('sqlite:'.length) : store;
  return isAbsolute(path) ? path : resolve(baseDir, path);
}
