/**
 * Tool integrity routes, under the admin scope: the pins and pending definitions, the diff of a pending one
 * against its pin, and approving or rejecting it (through the gateway's guard, which audits the decision and
 * updates what this replica serves at once; other replicas re-read within integrity.refreshMs).
 *
 *   GET  /admin/tools?upstream=&state=                   list (no definitions)
 *   GET  /admin/tools/<upstream>/<name>/diff?kind=tool   the pinned and the pending definition, and their diff
 *   POST /admin/tools/<upstream>/<name>/approve|reject   {digest?, kind?}
 */
import { definitionDiff } from '../integrity/index.js';
import { WardenError } from '../protocol/errors.js';
import type { PinKind, PinRecord, PinState } from '../store/types.js';
import type { AdminContext, Answer } from './context.js';
import { AdminError, optionalText, queryChoice } from './http.js';

const STATES = ['pending', 'approved', 'rejected', 'superseded', 'all'] as const;
const KINDS = ['tool', 'prompt'] as const;

/** A pin without its definition text: what lists show. */
export const pinSummary = (r: PinRecord) => ({
  upstream: r.upstream,
  kind: r.kind,
  name: r.name,
  digest: r.digest,
  state: r.state,
  findings: r.findings,
  firstSeenAt: r.firstSeenAt,
  decidedAt: r.decidedAt,
  decidedBy: r.decidedBy,
});

function services(ctx: AdminContext) {
  const i = ctx.opts.integrity;
  if (i === undefined) throw new AdminError(404, 'not_found', 'Tool integrity is not available on this gateway');
  return i;
}

export async function listPins(ctx: AdminContext, query: URLSearchParams): Promise<Answer> {
  ctx.requireScope(ctx.opts.adminScope);
  const state = queryChoice(query, 'state', STATES, 'all');
  const upstream = query.get('upstream') ?? undefined;
  const pins = await services(ctx).store.list({ ...(upstream ? { upstream } : {}), ...(state === 'all' ? {} : { state: state as PinState }) });
  return { status: 200, body: { pins: pins.map(pinSummary) } };
}

export async function diffPin(ctx: AdminContext, upstream: string, name: string, query: URLSearchParams): Promise<Answer> {
  ctx.requireScope(ctx.opts.adminScope);
  const kind = queryChoice(query, 'kind', KINDS, 'tool');
  const recs = (await services(ctx).store.list({ upstream })).filter((r) => r.kind === kind && r.name === name);
  if (recs.length === 0) throw new AdminError(404, 'unknown_tool', `No ${kind} ${name} of upstream ${upstream} was recorded`);
  const pinned = recs.find((r) => r.state === 'approved');
  const pending = recs.filter((r) => r.state === 'pending');
  return {
    status: 200,
    body: {
      pinned: pinned ? pinSummary(pinned) : null,
      pending: pending.map((p) => ({ ...pinSummary(p), diff: definitionDiff(pinned?.definition ?? '{}', p.definition) })),
    },
  };
}

export async function decidePinRoute(ctx: AdminContext, upstream: string, name: string, verb: 'approve' | 'reject', body: Record<string, unknown>): Promise<Answer> {
  ctx.requireScope(ctx.opts.adminScope);
  const digest = optionalText(body, 'digest', 80) ?? undefined;
  const kind = (optionalText(body, 'kind', 10) ?? 'tool') as PinKind;
  if (!KINDS.includes(kind)) throw new AdminError(400, 'invalid_request', `kind must be one of ${KINDS.join(', ')}`);
  try {
    const r = await services(ctx).decide(upstream, kind, name, digest, verb === 'approve' ? 'approved' : 'rejected', ctx.actor);
    return { status: 200, body: { pin: pinSummary(r) } };
  } catch (err) {
    if (err instanceof WardenError && err.code === 'invalid_params') throw new AdminError(409, 'nothing_to_decide', err.message);
    throw err;
  }
}
