/** Shared by the store suites: stores closed after a suite, and races between two handles on one store. */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import type { Store } from '../../src/store/index.js';

/** Stores a suite opens, closed after it: call inside `describe`, then wrap each `open()` in `track`. */
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

/** One round of a race: the competing calls' results, and how to read the record they fought over. */
export interface Race<T> {
  results: readonly (T | undefined)[];
  read: (s: Store) => Promise<T | undefined>;
}

/**
 * Runs `race` `rounds` times on one handle (`a` against itself), then as many across `a` and `b` (as two
 * replicas): each time exactly one call may win, and both handles then read the winner.
 */
export async function exactlyOneWins<T>(a: Store, b: Store, rounds: number, race: (x: Store, y: Store) => Promise<Race<T>>): Promise<void> {
  for (const [x, y] of [
    [a, a],
    [a, b],
  ] as const) {
    for (let i = 0; i < rounds; i++) {
      const { results, read } = await race(x, y);
      const winners = results.filter((w) => w !== undefined);
      assert.equal(winners.length, 1, `exactly one winner, got ${JSON.stringify(results)}`);
      assert.deepEqual(await read(a), winners[0], 'the stored record is the winner');
      assert.deepEqual(await read(b), winners[0]);
    }
  }
}
