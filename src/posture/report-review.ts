/** The readiness review as Markdown (for a pull request or a ticket) and JSON (for CI). */
import { describeMapping } from './frameworks.js';
import { SEVERITIES } from './model.js';
import type { ReviewReport, Verdict } from './review-model.js';
import { REVIEW_CHECKS } from './review-rules.js';
import { SCAN_RULES } from './scan-rules.js';
import { printable } from './values.js';

const MARK: Record<Verdict, string> = { yes: 'yes', partial: 'partly', no: '**no**', 'n/a': 'n/a' };
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const titleOf = (check: string) =>
  REVIEW_CHECKS.find((c) => c.id === check)?.title ?? SCAN_RULES.find((r) => r.id === check)?.title ?? check;

export function renderReviewMarkdown(r: ReviewReport): string {
  const counts = [...SEVERITIES]
    .reverse()
    .filter((s) => r.summary[s] > 0)
    .map((s) => `${r.summary[s]} ${s}`);
  const lines = [
    `# Readiness review: ${r.config}`,
    '',
    `Generated ${r.generatedAt}. Store: ${r.store ?? 'none yet'}. Findings: ${counts.length > 0 ? counts.join(', ') : 'none'}.`,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    '## Agents',
    '',
    '| Agent | Owner | Last seen | Identity verifiable | Scoped | Logged | Rotated | Revocable |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.agents.map(
      (a) =>
        `| ${cell(a.agent)}${a.registered ? '' : ' (unregistered)'} | ${cell(a.owner ?? '**none**')} | ${a.lastSeen?.slice(0, 10) ?? 'never'} | ${MARK[a.verifiable]} | ${MARK[a.scoped]} | ${MARK[a.logged]} | ${MARK[a.rotated]} | ${MARK[a.revocable]} |`,
    ),
    ...(r.agents.length === 0 ? ['| (no agents registered or seen) | | | | | | | |'] : []),
    '',
    '## Upstreams',
    '',
    '| Upstream | Environment | Credential | Identity verifiable | Scoped | Logged | Rotated | Revocable |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.upstreams.map(
      (u) =>
        `| ${cell(u.upstream)} | ${u.environment} | ${u.credential} | ${MARK[u.verifiable]} | ${MARK[u.scoped]} | ${MARK[u.logged]} | ${MARK[u.rotated]} | ${MARK[u.revocable]} |`,
    ),
    '',
    '## Findings',
  ];
  for (const f of r.findings) {
    lines.push(
      '',
      `### ${f.severity.toUpperCase()}: ${titleOf(f.check)} (${f.subject.kind === 'gateway' ? 'gateway' : `${f.subject.kind} ${f.subject.name}`})`,
      '',
      `\`${f.check}\`: ${f.why}`,
      '',
      `**Fix:** ${f.fix}`,
      '',
      `Maps to: ${describeMapping(f.mapping)}`,
    );
  }
  return printable(lines.join('\n') + '\n');
}

export const renderReviewJson = (r: ReviewReport): string => JSON.stringify(r, null, 2) + '\n';
