/**
 * The audit page's live tail: `GET /console/audit/stream` is a server-sent event stream of events recorded
 * after it opened, with the page's filters (agent, user, task, tool, outcome). It polls the store (every
 * replica sees every event that way, SQLite or PostgreSQL), sends each match as `event: audit` with plain
 * strings (the script writes them with textContent), and a comment every 15 s so proxies keep it open.
 * At most MAX_STREAMS are open per gateway, MAX_STREAMS_PER_PERSON per signed-in person; more are refused
 * (503, 429) rather than queued.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEvent } from '../../audit/index.js';
import type { PageContext } from '../context.js';
import type { Role } from '../roles.js';
import { tailItem, toolOf } from './events.js';

export interface StreamRoute {
  path: RegExp;
  role: Role;
  /** `allowed` is asked before each send: false once the session expired or its person lost the role. */
  open(ctx: PageContext, query: URLSearchParams, req: IncomingMessage, res: ServerResponse, allowed: () => boolean): Promise<void>;
}

const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;
const MAX_STREAMS = 20;
const MAX_STREAMS_PER_PERSON = 4;
let open = 0;
const openBy = new Map<string, number>();

function matches(e: AuditEvent, q: URLSearchParams): boolean {
  const want = (k: string) => (q.get(k) ?? '').trim();
  const agent = want('agent');
  if (agent && e.agent !== agent && !e.chain.includes(agent)) return false;
  if (want('user') && e.user !== want('user')) return false;
  if (want('task') && e.task !== want('task')) return false;
  if (want('outcome') && e.outcome !== want('outcome')) return false;
  const tool = want('tool');
  return !tool || e.target === tool || toolOf(e) === tool;
}

async function stream(ctx: PageContext, q: URLSearchParams, req: IncomingMessage, res: ServerResponse, allowed: () => boolean): Promise<void> {
  const who = ctx.session.name;
  // One person (or one stolen cookie) cannot take every tail: the rest of the console's people keep theirs.
  if ((openBy.get(who) ?? 0) >= MAX_STREAMS_PER_PERSON) {
    res.writeHead(429, { 'retry-after': '30', 'content-type': 'text/plain' }).end('you have too many live tails open');
    return;
  }
  if (open >= MAX_STREAMS) {
    res.writeHead(503, { 'retry-after': '30', 'content-type': 'text/plain' }).end('too many live tails open');
    return;
  }
  const audit = ctx.services.store.audit;
  // Read before the tail counts as open: a failed read (the caller answers 500) leaves no count behind.
  let cursor = (await audit.tail({ limit: 1 })).at(-1)?.id;
  open++;
  openBy.set(who, (openBy.get(who) ?? 0) + 1);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'keep-alive' });
  res.write(': live\n\n');
  let closed = false;
  let busy = false;
  const poll = setInterval(() => {
    if (busy || closed) return;
    // A tail outlives the request that opened it: it ends with the session, or when a reload takes the role away.
    if (!allowed()) {
      stop();
      return void res.end();
    }
    busy = true;
    audit
      .tail({ limit: 500, ...(cursor ? { afterId: cursor } : {}) })
      .then((events) => {
        if (closed) return;
        for (const e of events) {
          cursor = e.id;
          if (matches(e, q)) res.write(`event: audit\ndata: ${JSON.stringify(tailItem(e))}\n\n`);
        }
      })
      .catch((err: unknown) => ctx.services.log.warn({ err }, 'console: live tail could not read the store'))
      .finally(() => (busy = false));
  }, POLL_MS);
  const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const stop = () => {
    if (closed) return;
    closed = true;
    open--;
    const left = (openBy.get(who) ?? 1) - 1;
    if (left > 0) openBy.set(who, left);
    else openBy.delete(who);
    clearInterval(poll);
    clearInterval(beat);
  };
  req.on('close', stop);
  res.on('close', stop);
}

export const STREAMS: StreamRoute[] = [{ path: /^\/console\/audit\/stream$/, role: 'viewer', open: stream }];
