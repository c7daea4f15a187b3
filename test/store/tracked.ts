/** Stores a suite opens, closed after it: call inside `describe`, then wrap each `open()` in `track`. */
import { after } from 'node:test';
import type { Store } from '../../src/store/index.js';

export function trackedStores(): (s: Promise<Store>) => Promise<Store> {
  const opened: Store[] = [];
  after(async () => {
    for (const s of opened) await s.close();
  });
  return async (s) => {
    const store = await s;
    opened.push(store);
    return store;
  };
}
