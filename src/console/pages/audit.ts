/**
 * Audit: events filtered by agent, user, task, tool, outcome and time (a plain GET form: works without
 * JavaScript), a live tail of new events (server-sent events, pages/tail.ts, with the console's script), and
 * the chain's verification and checkpoint keys on their own page (it reads the whole chain).
 */
import { verifyAudit } from '../../audit/verify.js';
import type { TraceQuery } from '../../store/types.js';
import { ConsoleError, type PageContext, type Route } from '../context.js';
import { escapeHtml, href, table, text, when } from '../html.js';
import { EVENT_HEAD, eventRow, parseTime, toolOf } from './events.js';

const OUTCOMES = ['', 'ok', 'denied', 'error', 'timeout', 'cancelled'];
const FIELDS = ['agent', 'user', 'task', 'tool', 'outcome', 'since', 'until'] as const;
const MAX_SCAN = 5000;
const SHOWN = 500;

function filterForm(q: URLSearchParams): string {
  const input = (name: string, label: string, hint = '') =>
    `<label for="f-${name}">${label}<input id="f-${name}" name="${name}" value="${escapeHtml(q.get(name) ?? '')}"${hint ? ` placeholder="${hint}"` : ''}></label>`;
  const outcome = q.get('outcome') ?? '';
  return `<form class="filters" method="get" action="/console/audit" aria-label="Filter events">
${input('agent', 'Agent')}${input('user', 'User')}${input('task', 'Task')}${input('tool', 'Tool', 'server/tool or tool')}
<label for="f-outcome">Outcome<select id="f-outcome" name="outcome">${OUTCOMES.map((o) => `<option value="${o}"${o === outcome ? ' selected' : ''}>${o === '' ? 'any' : o}</option>`).join('')}</select></label>
${input('since', 'Since', '30m, 12h, 7d or ISO time')}${input('until', 'Until', 'ISO time')}
<button type="submit">Filter</button> <a href="/console/audit">Clear</a></form>`;
}

async function list(ctx: PageContext, q: URLSearchParams) {
  const now = ctx.now();
  let since: string | undefined;
  let until: string | undefined;
  try {
    since = parseTime(q.get('since'), now);
    until = parseTime(q.get('until'), now);
  } catch (err) {
    throw new ConsoleError(400, 'invalid_request', (err as Error).message);
  }
  const outcome = q.get('outcome') ?? '';
  if (!OUTCOMES.includes(outcome)) throw new ConsoleError(400, 'invalid_request', `outcome must be one of ${OUTCOMES.filter(Boolean).join(', ')}`);
  const query: TraceQuery = { limit: MAX_SCAN };
  for (const k of ['agent', 'user', 'task'] as const) {
    const v = (q.get(k) ?? '').trim();
    if (v) query[k] = v;
  }
  if (outcome) query.outcome = outcome;
  if (since) query.since = since;
  const tool = (q.get('tool') ?? '').trim();
  const events = (await ctx.services.store.audit.trace(query))
    .filter((e) => (tool === '' ? true : e.target === tool || toolOf(e) === tool))
    .filter((e) => (until === undefined ? true : e.time <= until))
    .reverse()
    .slice(0, SHOWN);
  const stream = href('/console/audit/stream', Object.fromEntries(FIELDS.filter((f) => f !== 'since' && f !== 'until').map((f) => [f, q.get(f) ?? undefined])));
  return {
    title: 'Audit',
    body: `${filterForm(q)}
<p><a href="/console/audit/verify">Verify the chain and show the checkpoint keys</a></p>
<p id="tail-status" role="status" aria-live="polite">Newest first. ${events.length === SHOWN ? `The newest ${SHOWN} matches are shown.` : `${events.length} events.`}</p>
<table id="tail" data-stream="${stream}"><caption>Events</caption><thead><tr>${EVENT_HEAD.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead>
<tbody>${events.map((e) => `<tr>${eventRow(e).map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}</tbody></table>
<script src="/console/static/tail.js" defer></script>`,
  };
}

async function verify(ctx: PageContext) {
  const r = await verifyAudit(ctx.services.store);
  const status = r.ok
    ? `<p class="ok" role="status">The audit chain is <strong>intact</strong>: ${r.events} events and ${r.checkpoints} signed checkpoints verified${r.head ? `, head at seq ${r.head.seq}` : ''}.</p>`
    : `<p class="bad" role="alert">The audit chain is <strong>BROKEN</strong> at seq ${r.firstBroken!.seq} (${escapeHtml(r.firstBroken!.reason)}): ${text(r.firstBroken!.detail)}</p>`;
  const keys = table(
    ['Key id', 'Algorithm', 'Thumbprint (RFC 7638)', 'First used', 'Checkpoints verified'],
    r.keys.map((k) => [text(k.kid), text(k.alg), `<code>${text(k.thumbprint)}</code>`, when(k.firstUsedAt), String(k.checkpoints)]),
    'Checkpoint keys: compare the thumbprints with a copy kept outside the database',
    'No checkpoint has been signed yet.',
  );
  const last = r.lastCheckpointSeq === undefined ? 'none yet' : `seq ${r.lastCheckpointSeq}`;
  return { title: 'Audit chain', body: `${status}<p>Newest checkpoint: ${last}${r.anchorSeq ? `; the chain starts from the checkpoint at seq ${r.anchorSeq} (older events were pruned)` : ''}.</p>${keys}<p><a href="/console/audit">Back to the events</a></p>` };
}

export const AUDIT_ROUTES: Route[] = [
  { method: 'GET', path: /^\/console\/audit$/, role: 'viewer', nav: '/console/audit', handle: (ctx, _p, q) => list(ctx, q) },
  { method: 'GET', path: /^\/console\/audit\/verify$/, role: 'viewer', nav: '/console/audit', handle: (ctx) => verify(ctx) },
];
