/**
 * Settings for the property-based fuzz targets (fast-check). `npm test` runs each property a few hundred
 * times (seconds per target); `npm run fuzz` runs FUZZ_RUNS times each (default there: 20,000). A failure
 * prints its seed and path: replay with FUZZ_SEED=<seed> (and FUZZ_PATH=<path>).
 */
import assert from 'node:assert/strict';
import type { Parameters } from 'fast-check';

export function fuzzParams<T>(quickRuns: number): Parameters<T> {
  const seed = process.env.FUZZ_SEED;
  const path = process.env.FUZZ_PATH;
  return {
    numRuns: Number(process.env.FUZZ_RUNS ?? quickRuns),
    includeErrorInReport: true,
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path !== undefined ? { path } : {}),
  };
}

/**
 * The time one call on a small input may take. Generous on purpose (a shared machine pauses for GC and
 * other processes); what it catches is the blow-up, the backtracking regex or the quadratic rescan that
 * takes seconds.
 */
export const BOUND_MS = 500;

/** Runs `fn` and asserts it returned or threw within `ms`; returns what it returned or threw. */
export function within<T>(ms: number, fn: () => T): { value?: T; error?: unknown } {
  const started = performance.now();
  let out: { value?: T; error?: unknown };
  try {
    out = { value: fn() };
  } catch (error) {
    out = { error };
  }
  const took = performance.now() - started;
  assert.ok(took < ms, `took ${took.toFixed(1)} ms (bound ${ms} ms)`);
  return out;
}

export async function withinAsync<T>(ms: number, fn: () => Promise<T>): Promise<{ value?: T; error?: unknown }> {
  const started = performance.now();
  let out: { value?: T; error?: unknown };
  try {
    out = { value: await fn() };
  } catch (error) {
    out = { error };
  }
  const took = performance.now() - started;
  assert.ok(took < ms, `took ${took.toFixed(1)} ms (bound ${ms} ms)`);
  return out;
}

/** Rethrows anything that is not the expected error class, so a crash (TypeError, RangeError) fails the property. */
export function expectOnly(error: unknown, ...classes: Array<abstract new (...args: never[]) => Error>): void {
  if (error === undefined) return;
  if (!classes.some((c) => error instanceof c)) throw error;
  assert.ok((error as Error).message.length > 0, 'an error says what is wrong');
}
