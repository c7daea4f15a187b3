/**
 * The list routes (tools/list, prompts/list, resources/list, resources/templates/list): each reachable
 * upstream's lists loaded into the session's catalog, and answered with what the caller may see.
 */
import { WardenError } from '../protocol/errors.js';
import type { UpstreamClient } from '../upstream/index.js';
import { validItems, type Entry, type ListKind } from './catalog.js';
import type { RequestOutbound } from './channel.js';
import { filtered, invalidResult } from './forward.js';
import type { RouteAudit, RouteContext } from './route-context.js';
import type { GatewaySession } from './session.js';

const LISTS: Record<ListKind, { method: string; key: string; capability: string }> = {
  tools: { method: 'tools/list', key: 'tools', capability: 'tools' },
  prompts: { method: 'prompts/list', key: 'prompts', capability: 'prompts' },
  resources: { method: 'resources/list', key: 'resources', capability: 'resources' },
  resourceTemplates: { method: 'resources/templates/list', key: 'resourceTemplates', capability: 'resources' },
};
const MAX_PAGES = 100;

/** Fetches every page of one list from one upstream. */
async function listAll(ctx: RouteContext, client: UpstreamClient, kind: ListKind): Promise<Record<string, unknown>[]> {
  const { method, key } = LISTS[kind];
  const items: unknown[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await client.request(method, cursor ? { cursor } : undefined, { timeoutMs: ctx.timeoutMs(client.name), signal: ctx.out.signal });
    if (!Array.isArray(r[key])) throw invalidResult(client.name, method);
    items.push(...filtered(ctx, ctx.session.redact(client.name, r[key])));
    cursor = typeof r.nextCursor === 'string' && r.nextCursor.length > 0 ? r.nextCursor : undefined;
    if (!cursor) break;
  }
  return validItems(kind, items);
}

/** The upstreams (of `among`, else all) the caller may reach, in order. */
export const reachable = (ctx: RouteContext, among: readonly string[] = ctx.session.order): string[] => among.filter((n) => ctx.authz.mayReach(n));

/**
 * Makes sure the catalog holds `kind` from every upstream (of `among`) the caller may reach and that answers;
 * the others are left out, and ones it may not reach are never contacted.
 */
export function load(ctx: RouteContext, kind: ListKind, refresh = false, among?: readonly string[]): Promise<void> {
  return loadFrom(ctx, kind, reachable(ctx, among), refresh);
}

/**
 * Lists `kind` from every configured upstream, whatever the caller may reach: only for the operator's survey
 * (`warden doctor`, the start-up report), which runs in a session of nobody that is closed afterwards.
 */
export function loadEveryUpstream(ctx: RouteContext, kind: ListKind): Promise<void> {
  return loadFrom(ctx, kind, ctx.session.order, false);
}

async function loadFrom(ctx: RouteContext, kind: ListKind, names: readonly string[], refresh: boolean): Promise<void> {
  const { session } = ctx;
  const listed = new Map<string, Record<string, unknown>[]>();
  await Promise.all(
    names.map(async (name) => {
      if (!refresh && session.catalog.has(name, kind)) return;
      const client = session.upstream(name);
      try {
        await client.ready();
        listed.set(name, LISTS[kind].capability in client.serverCapabilities ? await session.connectionList(name, kind, () => listAll(ctx, client, kind), refresh) : []);
      } catch (err) {
        // One unreachable or lying upstream makes only its own items unavailable; a full process table is
        // the gateway's own limit, answered as such (503, retry) rather than as an empty list.
        if (err instanceof WardenError && (err.code === 'cancelled' || err.code === 'process_limit')) throw err;
      }
    }),
  );
  if (listed.size === 0) return;
  // Tool integrity: every definition listed together is assessed together (each sees the others' names).
  const pinned = kind === 'tools' ? 'tool' : kind === 'prompts' ? 'prompt' : undefined;
  const assessed = ctx.integrity && pinned ? await ctx.integrity.assess(pinned, listed, (u, n) => session.catalog.exposedName(u, n)) : undefined;
  for (const [name, items] of listed) session.catalog.set(name, kind, items, assessed?.get(name));
}

/**
 * Lists one kind from one upstream again, at once, outside any client request: an upstream said its list
 * changed, or it reconnected, so its definitions are checked against their pins now (not at the next list).
 */
export async function relist(
  session: GatewaySession,
  kind: 'tools' | 'prompts',
  upstream: string,
  opts: Pick<RouteContext, 'timeoutMs' | 'authz' | 'integrity'>,
): Promise<void> {
  const out: RequestOutbound = { send: () => false, signal: new AbortController().signal };
  const audit: RouteAudit = { upstream: null, target: null, argsDigest: null, arguments: null, upstreamStatus: null, decision: null };
  await loadFrom({ ...opts, session, out, argumentsMode: 'none', audit }, kind, [upstream], true);
}

export async function list(ctx: RouteContext, kind: ListKind): Promise<Record<string, unknown>> {
  await load(ctx, kind);
  const unreached = ctx.session.order.filter((n) => !ctx.authz.mayReach(n));
  return { [LISTS[kind].key]: ctx.authz.filter(kind, await unquarantined(ctx, kind, ctx.session.catalog.entries(kind, ctx.session.order)), unreached).map((e) => e.item) };
}

/** The entries whose definitions may be shown: a quarantined (changed, unapproved, rejected) one is hidden. */
async function unquarantined(ctx: RouteContext, kind: ListKind, entries: Entry[]): Promise<Entry[]> {
  const guard = ctx.integrity;
  if (!guard || (kind !== 'tools' && kind !== 'prompts')) return entries;
  await guard.fresh();
  const pinned = kind === 'tools' ? 'tool' : 'prompt';
  return entries.filter((e) => guard.visible(e.upstream, pinned, e.original, e.integrity));
}
