/** Audit events as the console shows them: one table row, the filters' time parsing, and a short summary. */
import type { AuditEvent } from '../../audit/index.js';
import { printable } from '../../core/printable.js';
import { escapeHtml, href, text, when } from '../html.js';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration back from now (30m, 12h, 7d) or an ISO-8601 time, as ISO; undefined when empty; throws when invalid. */
export function parseTime(value: string | null, now: number): string | undefined {
  const v = (value ?? '').trim();
  if (v === '') return undefined;
  const rel = /^(\d{1,6})([mhd])$/.exec(v);
  if (rel) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2]!]!).toISOString();
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new RangeError('a time is a duration such as 30m, 12h, 7d, or an ISO-8601 time');
  return new Date(t).toISOString();
}

export const EVENT_HEAD = ['Time', 'Agent', 'On behalf of', 'Task', 'Method', 'Tool', 'Outcome', 'Decision'];

/** The decision as text: effect, the determining policies and the reason. */
export function decisionText(e: AuditEvent): string {
  const d = e.decision;
  if (!d) return e.errorCode ?? '';
  const ids = d.policyIds.length > 0 ? ` [${d.policyIds.join(', ')}]` : '';
  return `${d.effect}${ids}${d.reason ? `: ${d.reason}` : ''}`;
}

export const toolOf = (e: AuditEvent): string | null => (e.upstream && e.target ? `${e.upstream}/${e.target}` : e.target);

export function eventRow(e: AuditEvent): string[] {
  const agent = e.chain.length > 0 ? `${text(e.agent)} <span class="none">via ${text(e.chain.join(' \u2190 '))}</span>` : text(e.agent);
  return [
    when(e.time),
    agent,
    text(e.user),
    e.task ? `<a href="${href('/console/audit/workflow', { task: e.task })}">${text(e.task)}</a>` : text(null),
    text(e.method),
    text(toolOf(e)),
    `<span class="${e.outcome === 'ok' ? 'ok' : 'denied'}">${escapeHtml(e.outcome)}</span>${e.errorCode ? ` (${text(e.errorCode)})` : ''}`,
    text(decisionText(e)),
  ];
}

/**
 * What the live tail sends for one event: plain strings the script puts in with textContent. textContent stops
 * markup, not a bidi override or a zero-width character: those are made visible here, as `text()` does on the pages.
 */
export function tailItem(e: AuditEvent): Record<string, string | null> {
  const item = { time: e.time, agent: e.agent, user: e.user, task: e.task ?? null, method: e.method, tool: toolOf(e), outcome: e.outcome, reason: decisionText(e) };
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v === null ? null : printable(v)]));
}
