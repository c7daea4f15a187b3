/** `warden audit tail`: the newest audit events, as a table or as JSON lines. */
import { loadConfig, resolveStoreSpec } from '../config/index.js';
import type { AuditEvent } from '../audit/index.js';
import { openStore } from '../store/index.js';

export interface TailOptions {
  config: string;
  json?: boolean;
  limit: string;
}

export function formatEvent(e: AuditEvent): string {
  const target = [e.upstream, e.target].filter(Boolean).join('/') || '-';
  const outcome = e.errorCode ? `${e.outcome}(${e.errorCode})` : e.outcome;
  const session = e.sessionId ? e.sessionId.slice(0, 8) : '-';
  return `${e.time}  ${e.method.padEnd(24)} ${target.padEnd(36)} ${outcome.padEnd(28)} ${e.latencyMs.toFixed(1).padStart(8)} ms  session ${session}`;
}

export async function auditTail(opts: TailOptions): Promise<void> {
  const { config, baseDir } = loadConfig(opts.config);
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a positive whole number');
  const store = await openStore(resolveStoreSpec(config.store, baseDir), { createDir: false });
  try {
    const events = await store.audit.tail({ limit });
    for (const e of events) process.stdout.write((opts.json ? JSON.stringify(e) : formatEvent(e)) + '\n');
    if (!opts.json && events.length === 0) process.stdout.write(`no audit events yet in ${store.location}\n`);
  } finally {
    await store.close();
  }
}
