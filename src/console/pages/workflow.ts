/**
 * The workflow view of one task, as a timeline: the user and the agent it started for, each delegation (an
 * agent first seen acting through a chain), every call with its decision and the policy ids, approvals
 * asked and given, leases issued and revoked, secrets used, revocations and the task's end; then the task's
 * approvals and the revocations that touch it. Built from the audit trail, the task and approval records.
 */
import { foldIntents, type AuditEvent } from '../../audit/index.js';
import type { RevocationRecord } from '../../store/types.js';
import { ConsoleError, type PageContext, type Route } from '../context.js';
import { escapeHtml, href, table, text, when } from '../html.js';

const MAX_EVENTS = 2000;

function step(kind: string, effect: 'allow' | 'deny' | '', time: string, body: string): string {
  return `<li class="${effect}"><span class="step">${escapeHtml(kind)}</span> <span class="none">${when(time)}</span><br>${body}</li>`;
}

function decided(e: AuditEvent): string {
  const d = e.decision;
  const policy = d ? ` Decision <strong>${escapeHtml(d.effect)}</strong>${d.policyIds.length ? ` by ${text(d.policyIds.join(', '))}` : ''}${d.reason ? `: ${text(d.reason)}` : ''}${d.policyVersion ? ` <span class="none">(policy ${text(d.policyVersion)})</span>` : ''}.` : '';
  const extra = [e.approvalId ? `approval ${text(e.approvalId)}` : '', e.leaseIds?.length ? `leases ${text(e.leaseIds.join(', '))}` : ''].filter(Boolean).join('; ');
  return `${policy} Outcome <span class="${e.outcome === 'ok' ? 'ok' : 'denied'}">${escapeHtml(e.outcome)}</span>${e.errorCode ? ` (${text(e.errorCode)})` : ''}.${extra ? ` ${extra}.` : ''}`;
}

function eventStep(e: AuditEvent): string {
  const who = `${text(e.agent)}${e.chain.length ? ` <span class="none">delegated by ${text(e.chain.join(' \u2190 '))}</span>` : ''}`;
  const effect = e.outcome === 'ok' && e.decision?.effect !== 'deny' ? 'allow' : 'deny';
  const m = e.method;
  if (m === 'task/start') return step('Task started', 'allow', e.time, `${who} for ${text(e.user)}: ${text(e.decision?.reason)}`);
  if (m === 'task/end') return step('Task ended', 'deny', e.time, text(e.decision?.reason));
  if (m === 'approval/request') return step('Approval requested', '', e.time, `${who} -> ${text(e.target)}: ${text(e.decision?.reason)} (${text(e.decision?.policyIds.join(', '))}); request ${text(e.approvalId)}`);
  if (m.startsWith('approval/')) return step(m === 'approval/approve' ? 'Approved' : m === 'approval/deny' ? 'Denied' : 'Approval decision', m === 'approval/approve' && e.outcome === 'ok' ? 'allow' : 'deny', e.time, `${text(e.decision?.reason ?? e.errorCode)}; request ${text(e.approvalId)}`);
  if (m.startsWith('lease/')) return step(m === 'lease/issue' ? 'Lease issued' : 'Lease revoked', '', e.time, `${text(e.target)} (${text(e.leaseIds?.join(', '))})`);
  if (m.startsWith('revoke/')) return step('Revocation', 'deny', e.time, text(e.decision?.reason));
  if (m === 'secret/use') return step('Secret used', '', e.time, `${text(e.target)} for ${text(e.upstream)} (the value never leaves the gateway)`);
  if (e.outcome === 'intent') return step('Call, unfinished', '', e.time, `${who} -> ${text(e.upstream ? `${e.upstream}/${e.target ?? ''}` : e.target)}: forwarded, no outcome recorded.`);
  if (m === 'oauth/token') return step('Token issued', effect, e.time, `${who}.${decided(e)}`);
  return step(m === 'tools/call' ? 'Call' : m, effect, e.time, `${who} -> ${text(e.upstream ? `${e.upstream}/${e.target ?? ''}` : e.target)}.${decided(e)}`);
}

async function workflow(ctx: PageContext, q: URLSearchParams) {
  const id = (q.get('task') ?? '').trim();
  if (id === '') return { title: 'Workflow', body: '<p>Choose a task on the <a href="/console/tasks">Tasks</a> page or an event\'s task on the <a href="/console/audit">Audit</a> page.</p>' };
  if (id.length > 128) throw new ConsoleError(400, 'invalid_request', 'Not a task id.');
  const { store } = ctx.services;
  const task = await store.tasks.get(id);
  const listed = await store.audit.trace({ task: id, limit: MAX_EVENTS });
  // A call's intent record (strict audit) is folded into its outcome, as `warden audit trace` does; one left
  // open is shown as unfinished.
  const events = foldIntents(listed);
  if (!task && events.length === 0) throw new ConsoleError(404, 'unknown_task', `There is no task ${id}.`);
  const steps: string[] = [];
  if (task) {
    steps.push(step('Task', 'allow', task.createdAt, `${text(task.user)} -> agent ${text(task.agent)}${task.tenant ? ` in tenant ${text(task.tenant)}` : ''}: ${text(task.purpose)}. Granted servers ${text(task.servers.join(', '))}; tools ${text(task.tools.join(', '))}. Expires ${when(task.expiresAt)}.`));
  }
  const seen = new Set<string>();
  for (const e of events) {
    const actor = `${e.agent ?? ''}\n${e.chain.join('\n')}`;
    if (e.agent && e.chain.length > 0 && !seen.has(actor)) {
      steps.push(step('Delegation', 'allow', e.time, `${text(e.chain.join(' \u2190 '))} -> ${text(e.agent)}`));
    }
    seen.add(actor);
    steps.push(eventStep(e));
  }
  const approvals = (await store.approvals.list({ limit: 1000 })).filter((a) => a.task === id);
  const agents = new Set([task?.agent, ...events.map((e) => e.agent)].filter((a): a is string => !!a));
  const revs = (await store.revocations.list({ limit: 1000 })).filter((r: RevocationRecord) => (r.kind === 'task' && r.value === id) || (r.kind === 'agent' && agents.has(r.value)) || (r.kind === 'user' && task?.user === r.value));
  const leases = await store.leases.active(id);
  const state = task ? `${task.state}${task.endedAt ? ` at ${task.endedAt} by ${task.endedBy ?? ''}` : ''}` : 'unknown (only its audit events remain)';
  return {
    title: `Workflow of task ${id}`,
    body: `<p>State: <strong>${text(state)}</strong>. <a href="${href('/console/audit', { task: id })}">Its events in the audit list</a>.</p>
<h2>Timeline</h2><ol class="timeline" aria-label="Timeline">${steps.join('\n')}</ol>${listed.length === MAX_EVENTS ? `<p class="note">The newest ${MAX_EVENTS} events are shown.</p>` : ''}
<h2>Approvals</h2>${table(['Request', 'Tool', 'State', 'Decided by', 'Reason'], approvals.map((a) => [`<a href="${href(`/console/approvals/${a.id}`)}">${text(a.id)}</a>`, text(a.tool), escapeHtml(a.state), text(a.decidedBy), text(a.decisionReason)]), 'Approvals of this task', 'No approval was asked.')}
<h2>Active leases</h2>${table(['Lease', 'Provider', 'Handle', 'Expires'], leases.map((l) => [text(l.name), text(l.provider), text(l.handle), when(l.expiresAt)]), 'Leases held now', 'No active lease.')}
<h2>Revocations</h2>${table(['Kind', 'Value', 'When', 'By', 'Reason'], revs.map((r) => [escapeHtml(r.kind), text(r.value), when(r.revokedAt), text(r.by), text(r.reason)]), 'Revocations of this task, its agents or its user', 'None.')}`,
  };
}

export const WORKFLOW_ROUTES: Route[] = [{ method: 'GET', path: /^\/console\/audit\/workflow$/, role: 'viewer', nav: '/console/audit', handle: (ctx, _p, q) => workflow(ctx, q) }];
