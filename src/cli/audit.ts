/**
 * `warden audit tail [--agent A] [--user U] [--task T] [--session S] [--outcome O] [--since T] [-n N] [--follow] [--json]`:
 * the newest audit events that match, oldest first in time order, as a table or as JSON lines; `--follow`
 * then prints each new match as it is committed, until interrupted. Every field of a table row goes through
 * `printable`: a value from a token or an upstream (a claim with a newline or an escape sequence) can
 * neither start a line of its own nor move the cursor, so it cannot forge or hide a row.
 */
import { existsSync } from 'node:fs';
import type { AuditEvent } from '../audit/index.js';
import { matchesTrace, type TraceQuery } from '../audit/trace.js';
import { printable } from '../core/printable.js';
import { openStore, type Store } from '../store/index.js';
import { auditTrace, parseTraceQuery, type TraceOptions } from './audit-trace.js';
import { withConfiguredStore, type StoreContext } from './configured-store.js';

export { withConfiguredStore };

export interface TailOptions extends TraceOptions {
  config: string;
  follow?: boolean;
  /** How often `--follow` reads new events (tests shorten it). */
  pollMs?: number;
}

/** The columns of a table row: name, width (the last one is not padded). */
const COLUMNS = [
  ['TIME', 24],
  ['METHOD', 20],
  ['AGENT', 20],
  ['USER', 16],
  ['TARGET', 32],
  ['OUTCOME', 26],
  ['LATENCY', 10],
  ['SESSION', 8],
  ['DECISION', 0],
] as const;

/** A row's fields, raw: each is made printable before it is padded. */
function fields(e: AuditEvent): string[] {
  const agent = e.agent === null ? '-' : e.chain.length > 0 ? `${e.agent} via ${e.chain.join(' <- ')}` : e.agent;
  const target = [e.upstream, e.target].filter(Boolean).join('/') || '-';
  const outcome = e.errorCode ? `${e.outcome}(${e.errorCode})` : e.outcome;
  // The policies that decided a refusal, so the line says why without opening the JSON.
  const d = e.decision;
  const decision = d && d.effect !== 'allow' && d.policyIds.length > 0 ? `${d.effect} by ${d.policyIds.join(',')}` : '';
  return [e.time, e.method, agent, e.user ?? '-', target, outcome, `${e.latencyMs.toFixed(1)} ms`, e.sessionId ? e.sessionId.slice(0, 8) : '-', decision];
}

function row(cells: readonly string[]): string {
  return cells
    .map((c, i) => {
      const width = COLUMNS[i]![1];
      return i === COLUMNS.length - 1 ? c : i === 6 ? c.padStart(width) : c.padEnd(width);
    })
    .join(' ')
    .trimEnd();
}

export const TAIL_HEADER = row(COLUMNS.map(([name]) => name));

/** One event as one table row: every field printable (see the file comment). */
export function formatEvent(e: AuditEvent): string {
  return row(fields(e).map(printable));
}

/** `warden audit trace`: the timeline of a task, session, user or agent. */
export function auditTraceCommand(opts: TraceOptions & { config: string }): Promise<void> {
  return withConfiguredStore(opts.config, (store) => auditTrace(opts, { query: (q) => store.audit.trace(q) }));
}

/** Time order (the time a request arrived), then commit order: the column a reader scans stays monotonic. */
const byTime = (a: AuditEvent, b: AuditEvent): number => (a.time < b.time ? -1 : a.time > b.time ? 1 : (a.seq ?? 0) - (b.seq ?? 0));

export async function auditTail(opts: TailOptions): Promise<void> {
  const q = parseTraceQuery({ limit: 20, ...opts }, Date.now(), false);
  const write = (e: AuditEvent): void => void process.stdout.write((opts.json ? JSON.stringify(e) : formatEvent(e)) + '\n');
  await withConfiguredStore(opts.config, async (store, ctx) => {
    const head = await store.audit.head();
    const events = (await store.audit.trace(q)).sort(byTime);
    if (!opts.json && (events.length > 0 || opts.follow)) process.stdout.write(TAIL_HEADER + '\n');
    for (const e of events) write(e);
    if (!opts.json && events.length === 0) process.stderr.write(`no ${filtered(q) ? 'matching ' : ''}audit events yet in ${ctx.location}\n`);
    if (!opts.follow) return;
    const after = Math.max(head?.seq ?? 0, ...events.map((e) => e.seq ?? 0));
    await follow(store, ctx, q, after, write, opts.pollMs ?? 500);
  });
}

const filtered = (q: TraceQuery): boolean => Object.keys(q).some((k) => k !== 'limit');

/**
 * Prints every new event that matches `q`, in commit order, until SIGINT or SIGTERM. On a store that does
 * not exist yet it waits for the gateway to create it (it never creates one itself).
 */
async function follow(initial: Store, ctx: StoreContext, q: TraceQuery, after: number, write: (e: AuditEvent) => void, pollMs: number): Promise<void> {
  let store = initial;
  let opened: Store | undefined;
  let stopped = false;
  let wake: () => void = () => undefined;
  const stop = (): void => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopped) {
      if (ctx.missing && opened === undefined && existsSync(ctx.path)) store = opened = await openStore(ctx.spec, { createDir: false });
      if (!ctx.missing || opened !== undefined) {
        for (;;) {
          const page = await store.audit.readChain(after, 500);
          for (const e of page) if (matchesTrace(q, e)) write(e);
          after = page.at(-1)?.seq ?? after;
          if (page.length < 500) break;
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await opened?.close();
  }
}
