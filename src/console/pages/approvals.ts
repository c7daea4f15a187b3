/**
 * Approvals: the queue of pending requests, one request with its complete call (as the approval page shows
 * it), approve or deny with a reason (approver role; the ApprovalService has the last word: listed
 * approvers, separation of duties, only a call that can be shown is approved), and the decided history.
 */
import { renderCall } from '../../approvals/index.js';
import type { ApprovalRecord } from '../../store/types.js';
import { decideRequest, recordDecision, Refusal } from '../../web/approval-decision.js';
import { ConsoleError, type PageContext, type Route } from '../context.js';
import { escapeHtml, form, href, table, text, when } from '../html.js';

const UUID = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';
const MAX_REASON = 2000;

function stateOf(r: ApprovalRecord, now: number): string {
  return r.state === 'pending' && Date.parse(r.expiresAt) <= now ? 'expired' : r.state;
}

function row(r: ApprovalRecord, now: number): string[] {
  return [
    `<a href="${href(`/console/approvals/${r.id}`)}">${text(r.tool)}</a>`,
    text(r.upstream),
    text(r.agent),
    text(r.user),
    text(r.task),
    text(r.reason),
    when(r.createdAt),
    escapeHtml(stateOf(r, now)),
    r.decidedBy ? `${text(r.decidedBy)}${r.decisionReason ? `: ${text(r.decisionReason)}` : ''}` : '',
  ];
}

const HEAD = ['Tool', 'Server', 'Agent', 'On behalf of', 'Task', 'Why', 'Requested', 'State', 'Decided by'];

async function queue(ctx: PageContext) {
  const store = ctx.services.store.approvals;
  const now = ctx.now();
  const pending = (await store.list({ state: 'pending', limit: 200 })).filter((r) => Date.parse(r.expiresAt) > now);
  const history = (await store.list({ limit: 100 })).filter((r) => r.state !== 'pending' || Date.parse(r.expiresAt) <= now);
  const none = ctx.services.approvals === undefined ? '<p class="note">No approvers are configured (approvals.approvers): nothing can be decided.</p>' : '';
  return {
    title: 'Approvals',
    body: `${none}<h2>Waiting for a decision</h2>${table(HEAD, pending.map((r) => row(r, now)), `${pending.length} pending`, 'No call is waiting for approval.')}
<h2>History</h2>${table(HEAD, history.map((r) => row(r, now)), 'The newest 100 decided or expired requests', 'Nothing decided yet.')}`,
  };
}

function details(r: ApprovalRecord, now: number): string {
  const item = (k: string, v: string) => `<dt>${k}</dt><dd>${v}</dd>`;
  return `<dl>${item('Tool', text(r.tool))}${item('Server', text(r.upstream))}${item('Agent', text(r.agent))}${item('On behalf of', text(r.user))}
${item('Delegated by', text(r.chain.join(' \u2190 ')))}${item('Tenant', text(r.tenant))}${item('Task', r.task ? `<a href="${href('/console/audit/workflow', { task: r.task })}">${text(r.task)}</a>` : text(null))}
${item('Why approval is needed', text(r.reason))}${item('Policies', text(r.policyIds.join(', ')))}${item('Requested', when(r.createdAt))}${item('Expires', when(r.expiresAt))}
${item('State', escapeHtml(stateOf(r, now)))}${r.decidedBy ? item('Decided by', `${text(r.decidedBy)} at ${when(r.decidedAt)}${r.decisionReason ? `: ${text(r.decisionReason)}` : ''}`) : ''}</dl>`;
}

async function show(ctx: PageContext, id: string) {
  const r = await ctx.services.store.approvals.get(id);
  if (!r) throw new ConsoleError(404, 'unknown_approval', `There is no approval request ${id}.`);
  const now = ctx.now();
  const service = ctx.services.approvals;
  const call = service ? await service.shownCall(r) : { shown: false as const, reason: 'no approvers are configured' };
  const callView = call.shown
    ? `<h2>The call</h2><p>The params ${text(r.upstream)} receives, complete: <strong>${call.bytes.toLocaleString('en-US')} bytes</strong> as JSON. Values from the vault show as their name.</p><pre class="call">${escapeHtml(renderCall(call.params))}</pre>`
    : `<h2>Arguments (redacted summary)</h2><p class="note">The complete call is not shown: ${text(call.reason)}.</p><pre>${text(r.arguments ?? '(the arguments were not kept)')}</pre>`;
  const open = r.state === 'pending' && Date.parse(r.expiresAt) > now;
  let decide = '';
  if (open && ctx.session.role !== 'viewer' && service) {
    decide = form(
      `/console/approvals/${r.id}`,
      ctx.session.csrf,
      `<p><label for="reason">Reason (recorded with your decision)</label><br><textarea id="reason" name="reason" maxlength="${MAX_REASON}"></textarea></p>
<p>${call.shown ? '<button type="submit" name="decision" value="approve">Approve</button> ' : ''}<button type="submit" name="decision" value="deny">Deny</button></p>`,
      'Decide this request',
    );
  } else if (open) decide = '<p class="note">Deciding needs the approver role.</p>';
  return { title: `Approval request: ${r.tool}`, body: `${details(r, now)}${callView}${decide}<p><a href="/console/approvals">Back to the queue</a></p>` };
}

async function decide(ctx: PageContext, id: string, input: URLSearchParams) {
  const service = ctx.services.approvals;
  if (!service) throw new ConsoleError(409, 'no_approvers', 'No approvers are configured (approvals.approvers).');
  const decisions = input.getAll('decision');
  const verb = decisions[0];
  if (decisions.length !== 1 || (verb !== 'approve' && verb !== 'deny')) throw new ConsoleError(400, 'invalid_request', 'Choose Approve or Deny.');
  const reason = (input.get('reason') ?? '').trim();
  if (reason.length > MAX_REASON) throw new ConsoleError(400, 'invalid_request', `The reason can be at most ${MAX_REASON} characters.`);
  const startedAt = ctx.now();
  let record: ApprovalRecord | undefined;
  try {
    const { done, decision } = await decideRequest({ service, store: ctx.services.store.approvals, now: () => ctx.now(), approveShownOnly: true }, id, ctx.session.name, verb, reason || null, (r) => (record = r));
    await recordDecision(ctx.services.audit, { startedAt, record: done, id, verb, authMethod: 'oidc', decision, errorCode: null }).catch((err: unknown) => ctx.services.log.error({ err }, 'console: could not record a decision'));
    return { title: `${verb === 'approve' ? 'Approved' : 'Denied'}: ${done.tool}`, body: `<p>${verb === 'approve' ? 'Approved' : 'Denied'} by <strong>${text(ctx.session.name)}</strong>. ${verb === 'approve' ? 'The held call may now run once.' : 'The call will not run.'}</p>${details(done, ctx.now())}<p><a href="/console/approvals">Back to the queue</a></p>` };
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    await recordDecision(ctx.services.audit, { startedAt, record, id, verb, authMethod: 'oidc', decision: null, errorCode: err.code }).catch(() => undefined);
    throw new ConsoleError(err.status, err.code, err.message);
  }
}

export const APPROVAL_ROUTES: Route[] = [
  { method: 'GET', path: /^\/console\/approvals$/, role: 'viewer', nav: '/console/approvals', handle: (ctx) => queue(ctx) },
  { method: 'GET', path: new RegExp(`^/console/approvals/${UUID}$`), role: 'viewer', nav: '/console/approvals', handle: (ctx, [id]) => show(ctx, id!) },
  { method: 'POST', path: new RegExp(`^/console/approvals/${UUID}$`), role: 'approver', nav: '/console/approvals', handle: (ctx, [id], input) => decide(ctx, id!, input) },
];
