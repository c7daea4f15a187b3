/** Opens the store a config names, runs `fn` with it and the loaded config, and closes it. */
import { existsSync } from 'node:fs';
import { loadConfig, resolveStoreSpec, type LoadedConfig } from '../config/index.js';
import { openStore, parseStoreSpec, type Store } from '../store/index.js';

/** Where the store is, and whether it exists yet (a SQLite file no gateway has created reads as empty). */
export interface StoreContext extends LoadedConfig {
  /** Safe to print (a PostgreSQL URL without its password). */
  location: string;
  /** True when there is no store yet: `fn` was given an empty one in memory, and nothing was created. */
  missing: boolean;
  /** The store spec, with relative paths resolved, and for SQLite the file ('' for PostgreSQL). */
  spec: string;
  path: string;
}

/**
 * `createDir`: create the store (and its directory) when missing, for commands that write. Without it a
 * missing SQLite store reads as an empty one: a read command lists nothing, creates nothing, and never
 * shows a SQLite error for a file that is not there.
 */
export async function withConfiguredStore<T>(configFile: string, fn: (store: Store, ctx: StoreContext) => Promise<T>, opts: { createDir?: boolean } = {}): Promise<T> {
  const loaded = loadConfig(configFile);
  const spec = resolveStoreSpec(loaded.config.store, loaded.baseDir);
  const parsed = parseStoreSpec(spec);
  const missing = opts.createDir !== true && parsed.kind === 'sqlite' && parsed.path !== ':memory:' && !existsSync(parsed.path);
  const store = await openStore(missing ? 'sqlite::memory:' : spec, { createDir: opts.createDir ?? false });
  try {
    const path = parsed.kind === 'sqlite' ? parsed.path : '';
    return await fn(store, { ...loaded, location: missing ? `${path} (not created yet)` : store.location, missing, spec, path });
  } finally {
    await store.close();
  }
}
