/**
 * Overview: calls per minute, denials of the last day and their top reasons, pending approvals, upstream
 * health, revocations of the last day, and the posture summary (when a review has run in the last five
 * minutes or can run now).
 */
import type { PageContext, Route } from '../context.js';
import { escapeHtml, href, table, text, when } from '../html.js';
import { decisionText } from './events.js';
import { latestReview, summaryText } from './posture.js';
import { healthText, upstreamHealth } from './upstreams.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

async function overview(ctx: PageContext) {
  const { store } = ctx.services;
  const now = ctx.now();
  const day = await store.audit.trace({ since: new Date(now - DAY_MS).toISOString(), limit: 10_000 });
  // An intent record precedes each call's outcome under strict audit: count calls by their outcomes.
  const calls = day.filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
  const within = (ms: number) => calls.filter((e) => Date.parse(e.time) >= now - ms).length;
  const perMinute = (ms: number) => (within(ms) / (ms / MINUTE_MS)).toFixed(1);
  const denials = day.filter((e) => e.outcome === 'denied');
  const reasons = new Map<string, number>();
  for (const e of denials) {
    const why = decisionText(e) || 'denied';
    reasons.set(why, (reasons.get(why) ?? 0) + 1);
  }
  const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 5);
  const pending = (await store.approvals.list({ state: 'pending', limit: 1000 })).filter((r) => Date.parse(r.expiresAt) > now);
  const revocations = (await store.revocations.list({ limit: 1000 })).filter((r) => Date.parse(r.revokedAt) >= now - DAY_MS);
  const health = await upstreamHealth(ctx);
  let posture = '<p class="none">No config file: no review.</p>';
  const review = latestReview(ctx);
  if (review) {
    try {
      const r = await review;
      posture = `<p>${escapeHtml(summaryText(r))}. <a href="/console/posture">All findings</a></p>`;
    } catch (err) {
      ctx.services.log.warn({ err }, 'console: the review failed');
      posture = '<p class="bad">The review could not run; see the gateway log.</p>';
    }
  }
  return {
    title: 'Overview',
    body: `<ul class="cards" aria-label="Figures">
<li><strong>${perMinute(MINUTE_MS)}</strong>calls in the last minute</li>
<li><strong>${perMinute(10 * MINUTE_MS)}</strong>calls per minute, last 10 minutes</li>
<li><strong>${perMinute(60 * MINUTE_MS)}</strong>calls per minute, last hour</li>
<li><strong>${denials.length}</strong><a href="${href('/console/audit', { outcome: 'denied', since: '24h' })}">denials in the last day</a></li>
<li><strong>${pending.length}</strong><a href="/console/approvals">approvals pending</a></li>
<li><strong>${revocations.length}</strong>revocations in the last day</li></ul>
<h2>Top denial reasons (last day)</h2>${table(['Reason', 'Denials'], top.map(([why, n]) => [text(why), String(n)]), 'Most frequent reasons', 'No denial in the last day.')}
<h2>Upstream health (last hour)</h2>${table(['Server', 'Health'], [...health].map(([name, h]) => [text(name), healthText(h)]), 'Configured servers', 'No server is configured.')}
<h2>Revocations (last day)</h2>${table(['Kind', 'Value', 'When', 'By', 'Reason'], revocations.map((r) => [escapeHtml(r.kind), text(r.value), when(r.revokedAt), text(r.by), text(r.reason)]), 'Revocations', 'None.')}
<h2>Posture</h2>${posture}`,
  };
}

export const OVERVIEW_ROUTES: Route[] = [{ method: 'GET', path: /^\/console\/?$/, role: 'viewer', nav: '/console', handle: (ctx) => overview(ctx) }];
