/**
 * Policies: the set in force (each policy, its effect and location, and the files' text), its version
 * history as the audit trail shows it (each version that decided a call, first and last seen), a decision
 * explained for a request (viewer), and the impact of a candidate policy set: the last N days of audited
 * calls replayed against it, listing every decision that would change (admin; src/console/replay.ts).
 */
import { formatProblem, loadGatewayPolicy, parseRequest, PolicyLoadError, readPolicySources, evaluate, CaseFileError } from '../../policy/index.js';
import { inGrant } from '../../tasks/index.js';
import { ConsoleError, type PageContext, type Route } from '../context.js';
import { escapeHtml, form, table, text, when } from '../html.js';
import { replayPolicy, tasksOf } from '../replay.js';

const DAY_MS = 86_400_000;
const MAX_EVENTS = 10_000;
const MAX_CHANGES_SHOWN = 500;

/** Each version that decided in the last 30 days (first and last decision), and each reload that changed the set. */
async function versionHistory(ctx: PageContext): Promise<{ versions: string[][]; reloads: string[][] }> {
  const since = new Date(ctx.now() - 30 * DAY_MS).toISOString();
  const seen = new Map<string, { first: string; last: string; n: number }>();
  const reloads: string[][] = [];
  for (const e of await ctx.services.store.audit.trace({ since, limit: MAX_EVENTS })) {
    if (e.method === 'policy/reload' || e.method === 'config/reload') {
      reloads.unshift([when(e.time), text(e.method), `<span class="${e.outcome === 'ok' ? 'ok' : 'denied'}">${escapeHtml(e.outcome)}</span>`, text(e.decision?.policyVersion), text(e.decision?.reason ?? e.errorCode)]);
      continue;
    }
    const v = e.decision?.policyVersion;
    if (!v) continue;
    const s = seen.get(v);
    if (!s) seen.set(v, { first: e.time, last: e.time, n: 1 });
    else Object.assign(s, { last: e.time, n: s.n + 1 });
  }
  const versions = [...seen].sort((a, b) => b[1].last.localeCompare(a[1].last)).map(([v, s]) => [text(v), when(s.first), when(s.last), String(s.n)]);
  return { versions, reloads };
}

const EXAMPLE = `{"principal": {"agent": "agent-1", "user": "alice"},
 "action": "call_tool",
 "resource": {"tool": "files__write_file", "server": {"name": "files"}},
 "context": {"arguments": {"path": "/data/a.txt"}}}`;

async function overview(ctx: PageContext, extra = '') {
  const { config, baseDir } = ctx.services;
  const policy = ctx.services.policy();
  const files = config.policy?.files ?? [];
  let sources: { name: string; text: string }[] = [];
  try {
    sources = readPolicySources(files, baseDir);
  } catch {
    // Shown as unreadable below; the set in force is still the one loaded.
  }
  const rows = policy.policies.map((p) => [text(p.id), escapeHtml(p.effect) + ('approval' in p.annotations ? ' (approval)' : ''), text(p.annotations.reason), text(p.location)]);
  const admin = ctx.session.role === 'admin';
  const history = await versionHistory(ctx);
  const replay = admin
    ? form('/console/policies/replay', ctx.session.csrf, `<p><label for="candidate">Candidate policy set (Cedar)</label><textarea id="candidate" name="candidate" required>${escapeHtml(sources.map((s) => s.text).join('\n'))}</textarea></p>
<p><label for="days">Replay the last</label> <input id="days" name="days" type="number" min="1" max="90" value="7"> days <button type="submit">Replay</button></p>`, 'Replay a candidate policy set')
    : '<p class="note">Replaying a candidate policy set needs the admin role.</p>';
  return {
    title: 'Policies',
    body: `${extra}<p>Version in force: <strong>${text(policy.version)}</strong>, ${policy.policies.length} policies from ${files.length} file(s).</p>
${table(['Id', 'Effect', 'Reason', 'Location'], rows, 'The policy set in force', 'No policy: every request is denied.')}
<details><summary>The policy files</summary>${sources.map((s) => `<h3>${text(s.name)}</h3><pre>${text(s.text)}</pre>`).join('')}</details>
<h2>Version history</h2>${table(['Version', 'First decision', 'Last decision', 'Decisions'], history.versions, 'Versions that decided in the last 30 days', 'No decision recorded yet.')}
${table(['When', 'Reload', 'Outcome', 'Version', 'What changed'], history.reloads, 'Reloads of the policy set in the last 30 days', 'No reload in the last 30 days.')}
<h2>Explain a decision</h2>${form('/console/policies/explain', ctx.session.csrf, `<p><label for="request">Request (JSON, as <code>warden policy explain</code> reads it)</label><textarea id="request" name="request" required>${escapeHtml(EXAMPLE)}</textarea></p><p><button type="submit">Explain</button></p>`, 'Explain a decision')}
<h2>Impact of a candidate policy set</h2>${replay}`,
  };
}

async function explain(ctx: PageContext, input: URLSearchParams) {
  const policy = ctx.services.policy();
  let result: string;
  try {
    const request = parseRequest(input.get('request') ?? '', 'request');
    const d = evaluate(policy, request, { inGrant }).decision;
    const described = d.policyIds.map((id) => policy.policies.find((p) => p.id === id)).filter((p) => p !== undefined);
    result = `<p role="status">Decision: <strong>${escapeHtml(d.effect)}</strong>. Reason: ${text(d.reason)}. Policy version ${text(d.version)}.</p>
${table(['Determining policy', 'Effect', 'Location', 'Reason'], described.map((p) => [text(p.id), escapeHtml(p.effect), text(p.location), text(p.annotations.reason)]), 'Determining policies', 'No policy applies.')}`;
  } catch (err) {
    if (!(err instanceof CaseFileError)) throw err;
    result = `<p class="bad" role="alert">The request is not valid:</p><ul>${err.problems.map((p) => `<li>${text(p)}</li>`).join('')}</ul>`;
  }
  return overview(ctx, `<section aria-label="Explanation"><h2>Explanation</h2>${result}</section>`);
}

async function replay(ctx: PageContext, input: URLSearchParams) {
  const days = Number(input.get('days') ?? '7');
  if (!Number.isInteger(days) || days < 1 || days > 90) throw new ConsoleError(400, 'invalid_request', 'days must be a whole number from 1 to 90.');
  const textIn = input.get('candidate') ?? '';
  const { config, store } = ctx.services;
  let candidate;
  try {
    candidate = loadGatewayPolicy({ sources: [{ name: 'candidate.cedar', text: textIn }], arguments: config.policy?.arguments, pathArguments: config.policy?.pathArguments });
  } catch (err) {
    if (!(err instanceof PolicyLoadError)) throw err;
    return { title: 'Replay', status: 400, body: `<p class="bad" role="alert">The candidate policy set does not load (${escapeHtml(err.code)}):</p><ul>${err.problems.map((p) => `<li>${text(formatProblem(p))}</li>`).join('')}</ul><p><a href="/console/policies">Back</a></p>` };
  }
  const since = new Date(ctx.now() - days * DAY_MS).toISOString();
  const events = await store.audit.trace({ since, limit: MAX_EVENTS });
  const r = replayPolicy(config, events, ctx.services.policy(), candidate, await tasksOf(events, (id) => store.tasks.get(id)));
  await ctx.record({ agent: null, tenant: null, chain: [], method: 'console/policy-replay', upstream: null, target: candidate.version, outcome: 'ok', errorCode: null, decision: { effect: 'allow', policyIds: [], reason: `replayed ${r.replayed} calls of ${days} days: ${r.changes.length} would change` } });
  const rows = r.changes.slice(0, MAX_CHANGES_SHOWN).map((c) => [
    when(c.event.time),
    text(c.event.agent),
    text(c.event.user),
    text(c.tool),
    `${escapeHtml(c.current.effect)} ${text(c.current.policyIds.join(', '))}`,
    `<strong class="${c.candidate.effect === 'deny' ? 'denied' : 'ok'}">${escapeHtml(c.candidate.effect)}</strong> ${text(c.candidate.policyIds.join(', '))}: ${text(c.candidate.reason)}`,
    c.faithful ? 'exact' : 'approximate',
  ]);
  const denied = r.changes.filter((c) => c.candidate.effect === 'deny').length;
  return {
    title: 'Replay of a candidate policy set',
    body: `<p role="status">Replayed <strong>${r.replayed}</strong> audited calls of the last ${days} days (${r.skipped} skipped: server no longer configured or no policy decision). <strong>${r.changes.length}</strong> decisions would change, <strong>${denied}</strong> of them to deny. Under the policy in force ${r.matchesRecord} of ${r.replayed} re-decide as recorded; the others lack what the audit does not keep (such as token scopes), so their changes are marked approximate.</p>
<p>In force ${text(r.currentVersion)}; candidate ${text(r.candidateVersion)}.</p>
${table(['Time', 'Agent', 'On behalf of', 'Tool', 'Now', 'With the candidate', 'Rebuild'], rows, 'Decisions that would change', 'No decision would change.')}
<p><a href="/console/policies">Back to the policies</a></p>`,
  };
}

export const POLICY_ROUTES: Route[] = [
  { method: 'GET', path: /^\/console\/policies$/, role: 'viewer', nav: '/console/policies', handle: (ctx) => overview(ctx) },
  { method: 'POST', path: /^\/console\/policies\/explain$/, role: 'viewer', nav: '/console/policies', handle: (ctx, _p, input) => explain(ctx, input) },
  { method: 'POST', path: /^\/console\/policies\/replay$/, role: 'admin', nav: '/console/policies', handle: (ctx, _p, input) => replay(ctx, input) },
];
