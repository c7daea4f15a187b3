/**
 * The audit page's live tail: `GET /console/audit/stream` is a server-sent event stream of events recorded
 * after it opened, with the page's filters (agent, user, task, tool, outcome). It polls the store (every
 * replica sees every event that way, SQLite or PostgreSQL), sends each match as `event: audit` with plain
 * strings (the script writes them with textContent), and a comment every 15 s so proxies keep it open.
 * At most MAX_STREAMS are open per gateway; more are refused (503) rather than queued.
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
let open = 0;

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
  if (open >= MAX_STREAMS) {
    res.writeHead(503, { 'retry-after': '30', 'content-type': 'text/plain' }).end('too many live tails open');
    return;
  }
  open++;
  const audit = ctx.services.store.audit;
  let cursor = (await audit.tail({ limit: 1 })).at(-1)?.id;
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
    clearInterval(poll);
    clearInterval(beat);
  };
  req.on('close', stop);
  res.on('close', stop);
}

export const STREAMS: StreamRoute[] = [{ path: /^\/console\/audit\/stream$/, role: 'viewer', open: stream }];
