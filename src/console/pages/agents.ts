/**
 * Agents: every agent registered in the config or seen in the audit trail in the last 30 days, with its
 * owner, tenant, registration, last seen, the tools its active tasks grant against those it called, and
 * whether it is stale (registered but not seen for 30 days) or revoked. An admin revokes an agent here
 * (`warden revoke agent`'s own code: its active tasks end as revoked, its next call is refused).
 */
import { revocationAuditFields, revoke } from '../../revocation/index.js';
import { WardenError } from '../../protocol/errors.js';
import { ConsoleError, type PageContext, type Route } from '../context.js';
import { escapeHtml, form, href, table, text, when } from '../html.js';

const DAY_MS = 86_400_000;
const WINDOW_DAYS = 30;
const MAX_EVENTS = 10_000;
const MAX_REASON = 2000;

interface AgentRow {
  id: string;
  owner?: string | undefined;
  tenant?: string | null | undefined;
  registered: boolean;
  issuer?: string | undefined;
  firstSeen?: string;
  lastSeen?: string;
  used: Set<string>;
  granted: Set<string>;
  revoked?: string;
}

async function inventory(ctx: PageContext): Promise<AgentRow[]> {
  const { config, store } = ctx.services;
  const now = ctx.now();
  const rows = new Map<string, AgentRow>();
  const get = (id: string): AgentRow => {
    let r = rows.get(id);
    if (!r) rows.set(id, (r = { id, registered: false, used: new Set(), granted: new Set() }));
    return r;
  };
  for (const [id, a] of Object.entries(config.agents)) Object.assign(get(id), { registered: true, owner: a.owner, tenant: a.tenant, issuer: a.issuer });
  const since = new Date(now - WINDOW_DAYS * DAY_MS).toISOString();
  for (const e of await store.audit.trace({ since, limit: MAX_EVENTS })) {
    if (!e.agent) continue;
    const r = get(e.agent);
    if (!r.lastSeen || e.time > r.lastSeen) r.lastSeen = e.time;
    if (!r.firstSeen || e.time < r.firstSeen) r.firstSeen = e.time;
    r.tenant ??= e.tenant;
    if (e.method === 'tools/call' && e.outcome === 'ok' && e.target) r.used.add(e.upstream ? `${e.upstream}/${e.target}` : e.target);
  }
  for (const t of await store.tasks.list({ state: 'active', limit: 1000 })) {
    const r = rows.get(t.agent);
    if (r) for (const g of [...t.servers.map((s) => `${s}/*`), ...t.tools]) r.granted.add(g);
  }
  for (const rev of await store.revocations.list({ kind: 'agent', inForceAt: new Date(now).toISOString(), limit: 10_000 })) {
    const r = rows.get(rev.value);
    if (r) r.revoked = rev.revokedAt;
  }
  return [...rows.values()].sort((a, b) => a.id.localeCompare(b.id));
}

async function list(ctx: PageContext) {
  const rows = await inventory(ctx);
  const admin = ctx.session.role === 'admin';
  const staleBefore = new Date(ctx.now() - WINDOW_DAYS * DAY_MS).toISOString();
  const stale = (r: AgentRow) => !r.revoked && (!r.lastSeen || r.lastSeen < staleBefore);
  const body = rows.map((r) => [
    `<a href="${href('/console/audit', { agent: r.id })}">${text(r.id)}</a>`,
    text(r.owner),
    text(r.tenant),
    r.registered ? `registered${r.issuer ? ` (issuer ${text(r.issuer)})` : ''}` : '<span class="none">not registered</span>',
    when(r.firstSeen),
    when(r.lastSeen),
    `${r.granted.size} held: ${text([...r.granted].join(', '))}`,
    `${r.used.size} used: ${text([...r.used].join(', '))}`,
    r.revoked ? `<span class="denied">revoked ${when(r.revoked)}</span>` : stale(r) ? '<span class="bad">stale</span>' : 'active',
    admin && !r.revoked
      ? form('/console/agents/revoke', ctx.session.csrf, `<input type="hidden" name="agent" value="${escapeHtml(r.id)}"><label for="why-${escapeHtml(r.id)}">Reason</label> <input id="why-${escapeHtml(r.id)}" name="reason" maxlength="${MAX_REASON}"> <button type="submit">Revoke</button>`, `Revoke ${r.id}`)
      : '',
  ]);
  return {
    title: 'Agents',
    body: `<p>Agents registered in the config or seen in the last ${WINDOW_DAYS} days (the newest ${MAX_EVENTS.toLocaleString('en-US')} events). Grants held are those of active tasks; used are tools called successfully in the last ${WINDOW_DAYS} days. An agent registered but not seen for ${WINDOW_DAYS} days is stale.</p>
${table(['Agent', 'Owner', 'Tenant', 'Registration', 'First seen (30 days)', 'Last seen', 'Grants held', 'Tools used', 'State', admin ? 'Revoke' : ''], body, `${rows.length} agents`, 'No agent is registered or has been seen.')}`,
  };
}

async function revokeAgent(ctx: PageContext, input: URLSearchParams) {
  const agent = (input.get('agent') ?? '').trim();
  if (agent === '' || agent.length > 512) throw new ConsoleError(400, 'invalid_request', 'Name the agent to revoke.');
  const reason = (input.get('reason') ?? '').trim();
  if (reason.length > MAX_REASON) throw new ConsoleError(400, 'invalid_request', `The reason can be at most ${MAX_REASON} characters.`);
  const { store, tasks } = ctx.services;
  let result;
  try {
    result = await revoke(
      { revocations: store.revocations, tasks: store.tasks, tokens: store.tokens, endTask: (id, by) => tasks.end(id, by, 'revoked'), ...(ctx.services.now ? { now: ctx.services.now } : {}) },
      { kind: 'agent', value: agent, by: ctx.session.name, reason: reason || null },
    );
  } catch (err) {
    if (err instanceof WardenError && err.code === 'invalid_params') throw new ConsoleError(400, 'invalid_request', err.message);
    throw err;
  }
  await ctx.record(revocationAuditFields(result));
  const ended = result.endedTasks.length > 0 ? ` Its active tasks ended as revoked: ${text(result.endedTasks.join(', '))}.` : '';
  return {
    title: 'Agent revoked',
    body: `<p role="status">${result.created ? `Agent <strong>${text(agent)}</strong> is revoked by ${text(ctx.session.name)}: its next call is refused on every replica.${ended}` : `Agent <strong>${text(agent)}</strong> was already revoked at ${when(result.record.revokedAt)}.`}</p><p><a href="/console/agents">Back to the agents</a></p>`,
  };
}

export const AGENT_ROUTES: Route[] = [
  { method: 'GET', path: /^\/console\/agents$/, role: 'viewer', nav: '/console/agents', handle: (ctx) => list(ctx) },
  { method: 'POST', path: /^\/console\/agents\/revoke$/, role: 'admin', nav: '/console/agents', handle: (ctx, _p, input) => revokeAgent(ctx, input) },
];
