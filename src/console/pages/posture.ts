/**
 * Posture: the findings of `warden review` for this deployment (config, policy probes, the scan of the
 * config file, keys, secrets' age, the audit chain, agent activity), run on demand and kept five minutes,
 * so the page and the overview do not re-run it on every view. Finding texts name files and rules, never a
 * secret value (the review's own rule).
 */
import type { ReviewReport } from '../../posture/index.js';
import type { ConsoleServices, PageContext, Route } from '../context.js';
import { escapeHtml, table, text, when } from '../html.js';

const KEEP_MS = 5 * 60_000;
const cache = new WeakMap<ConsoleServices, { at: number; report: Promise<ReviewReport> }>();

/** The latest review (at most five minutes old), or undefined when this deployment has no config file to review. */
export function latestReview(ctx: PageContext): Promise<ReviewReport> | undefined {
  const run = ctx.services.review;
  if (!run) return undefined;
  const hit = cache.get(ctx.services);
  if (hit && ctx.now() - hit.at < KEEP_MS) return hit.report;
  const report = run();
  cache.set(ctx.services, { at: ctx.now(), report });
  report.catch(() => cache.delete(ctx.services));
  return report;
}

export function summaryText(r: ReviewReport): string {
  return Object.entries(r.summary)
    .map(([sev, n]) => `${n} ${sev}`)
    .join(', ');
}

async function posture(ctx: PageContext) {
  const pending = latestReview(ctx);
  if (!pending) return { title: 'Posture', body: '<p class="note">This gateway was started without a config file, so there is nothing for <code>warden review</code> to review.</p>' };
  const r = await pending;
  const findings = r.findings.map((f) => [escapeHtml(f.severity), text(f.check), text(`${f.subject.kind} ${f.subject.name}`), text(f.why), text(f.fix)]);
  const verdicts = (x: { verifiable: string; scoped: string; logged: string; rotated: string; revocable: string }) => [x.verifiable, x.scoped, x.logged, x.rotated, x.revocable].map((v) => escapeHtml(v));
  return {
    title: 'Posture',
    body: `<p>Review of ${text(r.config)} at ${when(r.generatedAt)}: ${escapeHtml(summaryText(r))}.</p>
${table(['Severity', 'Check', 'Subject', 'Why', 'Fix'], findings, 'Findings', 'No findings.')}
${table(['Agent', 'Owner', 'Last seen', 'Verifiable', 'Scoped', 'Logged', 'Rotated', 'Revocable'], r.agents.map((a) => [text(a.agent), text(a.owner), when(a.lastSeen), ...verdicts(a)]), 'Agents: readiness')}
${table(['Upstream', 'Environment', 'Credential', 'Verifiable', 'Scoped', 'Logged', 'Rotated', 'Revocable'], r.upstreams.map((u) => [text(u.upstream), text(u.environment), text(u.credential), ...verdicts(u)]), 'Upstreams: readiness')}
${r.notes.length ? `<h2>Notes</h2><ul>${r.notes.map((n) => `<li>${text(n)}</li>`).join('')}</ul>` : ''}`,
  };
}

export const POSTURE_ROUTES: Route[] = [{ method: 'GET', path: /^\/console\/posture$/, role: 'viewer', nav: '/console/posture', handle: (ctx) => posture(ctx) }];
