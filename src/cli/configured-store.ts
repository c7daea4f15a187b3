/** Opens the store a config names, runs `fn` with it and the loaded config, and closes it. */
import { loadConfig, resolveStoreSpec, type LoadedConfig } from '../config/index.js';
import { openStore, type Store } from '../store/index.js';

/** `createDir`: create the store's directory when missing (commands that may be the first to write). */
export async function withConfiguredStore<T>(configFile: string, fn: (store: Store, loaded: LoadedConfig) => Promise<T>, opts: { createDir?: boolean } = {}): Promise<T> {
  const loaded = loadConfig(configFile);
  const store = await openStore(resolveStoreSpec(loaded.config.store, loaded.baseDir), { createDir: opts.createDir ?? false });
  try {
    return await fn(store, loaded);
  } finally {
    await store.close();
  }
}
