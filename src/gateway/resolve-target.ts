/** The route step's lookups: a tool or prompt name, or a resource URI, to the upstream that serves it. */
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import { canonicalUri, PolicyInputError } from '../policy/index.js';
import { collisionError, unknownName, type Entry } from './catalog.js';
import { load, reachable } from './list-routes.js';
import type { RouteContext } from './route-context.js';

/** Refuses a call of a quarantined tool or prompt (recorded as a refusal with the reason). */
async function checkIntegrity(ctx: RouteContext, kind: 'tools' | 'prompts', entry: Entry): Promise<void> {
  const guard = ctx.integrity;
  if (!guard) return;
  await guard.fresh();
  const refusal = guard.refusal(entry.upstream, kind === 'tools' ? 'tool' : 'prompt', entry.original, entry.integrity);
  if (refusal) throw refusal;
}

export async function resolveName(ctx: RouteContext, kind: 'tools' | 'prompts', exposed: unknown) {
  if (typeof exposed !== 'string' || exposed.length === 0) throw new WardenError('invalid_params', `"name" is required`, JsonRpcCode.InvalidParams);
  // The name as asked for, until it resolves: an unknown or refused name is recorded (bounded), so probing shows.
  ctx.audit.target = exposed;
  const { session } = ctx;
  // Only the upstreams whose prefix the name carries are asked, and only those the caller may reach.
  const owners = session.catalog.possibleOwners(exposed, session.order);
  const open = reachable(ctx, owners);
  if (open.length === 0 && owners.length > 0) {
    // Refused unlisted: the audit names the tool as the client asked for it.
    if (owners.length === 1) ctx.audit.upstream = owners[0]!;
    throw ctx.authz.unreachable(owners.length === 1 ? owners[0] : undefined);
  }
  await load(ctx, kind, false, open);
  let entry = session.catalog.resolveName(kind, exposed, session.order);
  if (!entry && session.catalog.mayRefresh(kind)) {
    // The upstream may have added it since we listed: look once more before refusing (at most once a second,
    // so a client sending unknown names cannot multiply traffic to every upstream).
    await load(ctx, kind, true, open);
    entry = session.catalog.resolveName(kind, exposed, session.order);
  }
  const collision = entry ? undefined : session.catalog.collision(kind, exposed, session.order);
  if (collision !== undefined) throw collisionError(collision);
  if (!entry) {
    // The name may belong to an upstream whose list could not be fetched: say so, rather than "unknown".
    const down = open.find((u) => !session.catalog.has(u, kind));
    if (down !== undefined) {
      ctx.audit.upstream = down;
      // Down because the caller's user has not connected their own account to it: they are told how to.
      const refusal = session.upstream(down).lastRefusal;
      if (refusal !== undefined) throw refusal;
      throw new WardenError('upstream_unavailable', `Upstream "${down}" is unavailable, so ${exposed} cannot be resolved`, JsonRpcCode.UpstreamUnavailable);
    }
    throw unknownName(kind, exposed);
  }
  ctx.audit.upstream = entry.upstream;
  ctx.audit.target = entry.original;
  await checkIntegrity(ctx, kind, entry);
  return entry;
}

/** A resource URI from the client in canonical form; one with no single meaning is refused (a deny). */
export function canonicalResource(ctx: RouteContext, uri: unknown, template = false): string {
  if (typeof uri !== 'string' || uri.length === 0) throw new WardenError('invalid_params', `"uri" is required`, JsonRpcCode.InvalidParams);
  try {
    return canonicalUri(uri, { template });
  } catch (err) {
    if (err instanceof PolicyInputError) throw ctx.authz.refuseInput(err);
    throw err;
  }
}

/** The upstream serving a canonical resource URI, among those the caller may reach. */
export async function resolveUri(ctx: RouteContext, uri: string): Promise<string> {
  const { session } = ctx;
  if (reachable(ctx).length === 0) throw ctx.authz.unreachable();
  await Promise.all([load(ctx, 'resources'), load(ctx, 'resourceTemplates')]);
  const found = session.catalog.resolveUri(uri, session.order);
  if (found) return found;
  // A URI no list mentions: if exactly one reachable upstream serves resources, it is the only possible owner.
  const owners = reachable(ctx).filter((n) => 'resources' in session.upstream(n).serverCapabilities);
  if (owners.length === 1) return owners[0]!;
  throw new WardenError('unknown_resource', `Resource not found: ${uri}`, -32002);
}
