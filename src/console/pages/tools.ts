/**
 * Tool integrity of one upstream (docs/integrity.md): each recorded tool and prompt with its pin state
 * (pinned, pending, changed, rejected), its poisoning findings with their severity, and for a definition
 * waiting in quarantine the readable diff against its pin (`definitionDiff`, as `warden tools diff` prints
 * it: hidden characters escaped). An admin approves or rejects it through the gateway's guard, the same
 * decision the admin API makes: one `integrity/approved|rejected` audit event with the person as who decided,
 * and this replica serves the decision at once.
 */
import { definitionDiff, INTEGRITY_RULES } from '../../integrity/index.js';
import { WardenError } from '../../protocol/errors.js';
import type { PinKind, PinRecord } from '../../store/types.js';
import { ConsoleError, type PageContext, type Route } from '../context.js';
import { escapeHtml, form, table, text, when } from '../html.js';

const KINDS: readonly PinKind[] = ['tool', 'prompt'];
const DIGEST = /^sha256:[0-9a-f]{64}$/;

type Shown = 'pinned' | 'pending' | 'changed' | 'rejected' | 'superseded';

/** Pending with an approved pin is a change of a known definition; without one it is new (never pinned). */
function shownState(r: PinRecord, pinned: PinRecord | undefined): Shown {
  if (r.state === 'approved') return 'pinned';
  if (r.state === 'pending') return pinned ? 'changed' : 'pending';
  return r.state;
}

function findingsHtml(ids: readonly string[]): string {
  if (ids.length === 0) return text(null);
  return ids.map((f) => `${text(f)} (${escapeHtml(INTEGRITY_RULES[f]?.severity ?? 'unknown')})`).join(', ');
}

function integrityOf(ctx: PageContext, upstream: string) {
  if (!Object.hasOwn(ctx.services.config.mcpServers, upstream)) throw new ConsoleError(404, 'unknown_upstream', `There is no upstream ${upstream}.`);
  const i = ctx.services.integrity;
  if (i === undefined) throw new ConsoleError(409, 'no_integrity', 'This gateway keeps no tool pins.');
  return i;
}

function decideForm(ctx: PageContext, upstream: string, r: PinRecord): string {
  if (ctx.session.role !== 'admin') return '';
  const hidden = `<input type="hidden" name="kind" value="${escapeHtml(r.kind)}"><input type="hidden" name="name" value="${escapeHtml(r.name)}"><input type="hidden" name="digest" value="${escapeHtml(r.digest)}">`;
  return form(
    `/console/upstreams/${upstream}/tools`,
    ctx.session.csrf,
    `${hidden}<p><button type="submit" name="decision" value="approve">Approve</button> <button type="submit" name="decision" value="reject">Reject</button></p>`,
    `Decide ${r.kind} ${r.name}`,
  );
}

async function tools(ctx: PageContext, upstream: string) {
  const recs = await integrityOf(ctx, upstream).store.list({ upstream });
  const groups = new Map<string, PinRecord[]>();
  for (const r of recs) groups.set(`${r.kind} ${r.name}`, [...(groups.get(`${r.kind} ${r.name}`) ?? []), r]);
  const rows: string[][] = [];
  const waiting: string[] = [];
  for (const group of groups.values()) {
    const pinned = group.find((r) => r.state === 'approved');
    for (const r of group.filter((x) => x.state !== 'superseded')) {
      const state = shownState(r, pinned);
      rows.push([escapeHtml(r.kind), text(r.name), escapeHtml(state), text(r.digest.slice(0, 19)), findingsHtml(r.findings), r.decidedBy ? `${text(r.decidedBy)} ${when(r.decidedAt)}` : '']);
      if (r.state !== 'pending') continue;
      const diff = definitionDiff(pinned?.definition ?? '{}', r.definition);
      waiting.push(`<section><h3>${escapeHtml(r.kind)} ${text(r.name)}: ${escapeHtml(state)}</h3>
<p>${pinned ? `Pinned ${text(pinned.digest.slice(0, 19))}, now listed as` : 'Not pinned yet:'} ${text(r.digest.slice(0, 19))}, first seen ${when(r.firstSeenAt)}. Findings: ${findingsHtml(r.findings)}.</p>
<pre class="diff">${escapeHtml(diff.join('\n'))}</pre>${decideForm(ctx, upstream, r)}</section>`);
    }
  }
  const note = ctx.session.role === 'admin' ? '' : '<p class="note">Approving or rejecting a definition needs the admin role.</p>';
  return {
    title: `Tool integrity: ${upstream}`,
    body: `${table(['Kind', 'Name', 'State', 'Digest', 'Findings (severity)', 'Decided'], rows, `${rows.length} recorded definitions`, 'No definition of this upstream is recorded yet.')}
<h2>Quarantined: waiting for a decision</h2>${waiting.length > 0 ? `${note}${waiting.join('\n')}` : '<p>Nothing is waiting.</p>'}
<p><a href="/console/upstreams">Back to the upstreams</a></p>`,
  };
}

async function decide(ctx: PageContext, upstream: string, input: URLSearchParams) {
  const integrity = integrityOf(ctx, upstream);
  const one = (k: string) => {
    const v = input.getAll(k);
    return v.length === 1 ? v[0]! : undefined;
  };
  const verb = one('decision');
  const kind = one('kind') as PinKind | undefined;
  const name = one('name');
  const digest = one('digest');
  if ((verb !== 'approve' && verb !== 'reject') || !kind || !KINDS.includes(kind) || !name || name.length > 256 || !digest || !DIGEST.test(digest)) {
    throw new ConsoleError(400, 'invalid_request', 'Choose Approve or Reject for one listed definition.');
  }
  try {
    const r = await integrity.decide(upstream, kind, name, digest, verb === 'approve' ? 'approved' : 'rejected', ctx.session.name);
    const effect = verb === 'approve' ? 'pinned: listed and callable again' : 'rejected: it stays quarantined';
    return {
      title: `${verb === 'approve' ? 'Approved' : 'Rejected'}: ${name}`,
      body: `<p>${escapeHtml(r.kind)} ${text(r.name)} ${text(r.digest.slice(0, 19))} of ${text(upstream)} ${effect}, by <strong>${text(ctx.session.name)}</strong>. Other gateways sharing the store see it within integrity.refreshMs.</p>
<p><a href="/console/upstreams/${upstream}/tools">Back to the tools of ${text(upstream)}</a></p>`,
    };
  } catch (err) {
    if (err instanceof WardenError && err.code === 'invalid_params') throw new ConsoleError(409, 'nothing_to_decide', err.message);
    throw err;
  }
}

const PATH = /^\/console\/upstreams\/([a-zA-Z0-9_-]{1,64})\/tools$/;

export const TOOL_ROUTES: Route[] = [
  { method: 'GET', path: PATH, role: 'viewer', nav: '/console/upstreams', handle: (ctx, [u]) => tools(ctx, u!) },
  { method: 'POST', path: PATH, role: 'admin', nav: '/console/upstreams', handle: (ctx, [u], input) => decide(ctx, u!, input) },
];
