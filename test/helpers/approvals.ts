/** Shared by the approval tests: an environment variable set for one suite, pending requests, recorded calls. */
import assert from 'node:assert/strict';
import type { ApprovalStore } from '../../src/store/types.js';
import { recorded } from './auth.js';

/** Sets `name` for a suite; the returned function puts the old value back. */
export function setEnv(name: string, value: string): () => void {
  const saved = process.env[name];
  process.env[name] = value;
  return () => {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  };
}

/** Polls the store until a pending request other than those in `seen` appears; returns its id. */
export async function nextPending(store: Pick<ApprovalStore, 'list'>, seen: readonly string[] = []): Promise<string> {
  // Up to 20 s: the held call first starts its upstream, which takes seconds on a busy machine.
  for (let i = 0; i < 400; i++) {
    const found = (await store.list({ state: 'pending' })).find((r) => !seen.includes(r.id));
    if (found) return found.id;
    await new Promise((r) => setTimeout(r, 50));
  }
  return assert.fail('no pending approval request appeared');
}

/** The tools/call lines a recording upstream (RECORD_FILE) saw carrying `text`. */
export function recordedCalls(file: string, text: string): string[] {
  return recorded(file).filter((l) => l.includes('"tools/call"') && l.includes(text));
}
