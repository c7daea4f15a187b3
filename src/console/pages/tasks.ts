/**
 * Tasks: the active tasks (or ended, revoked, all) with their grants and active leases; an admin ends a
 * task (TaskService.end: its leases are revoked, its sessions' upstream processes stop) or revokes it
 * (`warden revoke task`'s code: ended as revoked, and refused on every replica from the next request on).
 */
import { WardenError } from '../../protocol/errors.js';
import { revocationAuditFields, revoke } from '../../revocation/index.js';
import type { TaskRecord, TaskState } from '../../store/types.js';
import { ConsoleError, type PageContext, type Route } from '../context.js';
import { escapeHtml, form, href, table, text, when } from '../html.js';

const STATES = ['active', 'ended', 'revoked', 'all'] as const;

async function list(ctx: PageContext, q: URLSearchParams) {
  const state = (q.get('state') ?? 'active') as (typeof STATES)[number];
  if (!STATES.includes(state)) throw new ConsoleError(400, 'invalid_request', `state must be one of ${STATES.join(', ')}`);
  const { store } = ctx.services;
  const tasks = await store.tasks.list({ ...(state === 'all' ? {} : { state: state as TaskState }), limit: 200 });
  const leases = await store.leases.active();
  const admin = ctx.session.role === 'admin';
  const actions = (t: TaskRecord) =>
    admin && t.state === 'active'
      ? `${form(`/console/tasks/${t.id}/end`, ctx.session.csrf, '<button type="submit">End</button>', `End task ${t.id}`)} ${form(`/console/tasks/${t.id}/revoke`, ctx.session.csrf, '<button type="submit">Revoke</button>', `Revoke task ${t.id}`)}`
      : '';
  const rows = tasks.map((t) => [
    `<a href="${href('/console/audit/workflow', { task: t.id })}">${text(t.id)}</a>`,
    text(t.agent),
    text(t.user),
    text(t.purpose),
    `servers ${text(t.servers.join(', '))}; tools ${text(t.tools.join(', '))}`,
    text(leases.filter((l) => l.task === t.id).map((l) => `${l.name} (${l.provider}) until ${l.expiresAt}`).join('; ')),
    when(t.createdAt),
    when(t.expiresAt),
    `${escapeHtml(t.state)}${t.endedBy ? ` by ${text(t.endedBy)}` : ''}`,
    actions(t),
  ]);
  const choose = STATES.map((s) => (s === state ? `<strong>${s}</strong>` : `<a href="${href('/console/tasks', { state: s })}">${s}</a>`)).join(' | ');
  return {
    title: 'Tasks',
    body: `<p>Show: ${choose}</p>${table(['Task', 'Agent', 'For', 'Purpose', 'Grant', 'Active leases', 'Started', 'Expires', 'State', admin ? 'Actions' : ''], rows, `${tasks.length} ${state === 'all' ? '' : `${state} `}tasks`, 'No task.')}`,
  };
}

async function end(ctx: PageContext, id: string) {
  const before = await ctx.services.store.tasks.get(id);
  if (!before) throw new ConsoleError(404, 'unknown_task', `There is no task ${id}.`);
  if (before.state !== 'active') throw new ConsoleError(409, 'not_active', `Task ${id} is already ${before.state}.`);
  let done: TaskRecord;
  try {
    done = await ctx.services.tasks.end(id, ctx.session.name);
  } catch (err) {
    const now = await ctx.services.store.tasks.get(id);
    if (now && now.state !== 'active') throw new ConsoleError(409, 'not_active', `Task ${id} is already ${now.state}.`);
    throw err;
  }
  await ctx.record({ agent: done.agent, user: done.user, tenant: done.tenant, chain: [], task: done.id, method: 'task/end', upstream: null, target: done.id, decision: { effect: 'deny', policyIds: [], reason: `task ${done.id} ended by ${ctx.session.name}` }, outcome: 'ok', errorCode: null });
  return { title: 'Task ended', body: `<p role="status">Task <strong>${text(id)}</strong> is ended by ${text(ctx.session.name)}; its leases are revoked.</p><p><a href="/console/tasks">Back to the tasks</a></p>` };
}

async function revokeTask(ctx: PageContext, id: string) {
  const { store, tasks } = ctx.services;
  let result;
  try {
    result = await revoke(
      { revocations: store.revocations, tasks: store.tasks, tokens: store.tokens, endTask: (t, by) => tasks.end(t, by, 'revoked'), ...(ctx.services.now ? { now: ctx.services.now } : {}) },
      { kind: 'task', value: id, by: ctx.session.name, reason: null },
    );
  } catch (err) {
    if (err instanceof WardenError && err.code === 'invalid_params') throw new ConsoleError(404, 'unknown_task', `There is no task ${id}.`);
    throw err;
  }
  await ctx.record(revocationAuditFields(result));
  return { title: 'Task revoked', body: `<p role="status">Task <strong>${text(id)}</strong> is revoked${result.created ? '' : ' (it was already)'}: its next call is refused.</p><p><a href="/console/tasks">Back to the tasks</a></p>` };
}

const ID = '([0-9A-Za-z_-]{1,64})';
export const TASK_ROUTES: Route[] = [
  { method: 'GET', path: /^\/console\/tasks$/, role: 'viewer', nav: '/console/tasks', handle: (ctx, _p, q) => list(ctx, q) },
  { method: 'POST', path: new RegExp(`^/console/tasks/${ID}/end$`), role: 'admin', nav: '/console/tasks', handle: (ctx, [id]) => end(ctx, id!) },
  { method: 'POST', path: new RegExp(`^/console/tasks/${ID}/revoke$`), role: 'admin', nav: '/console/tasks', handle: (ctx, [id]) => revokeTask(ctx, id!) },
];
