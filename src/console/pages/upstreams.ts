/**
 * Upstreams and tools: each configured server, its environment, tenant, whether its annotations are
 * trusted, its data classes and the operator's classification rules (name globs), with its health over the
 * last hour from the audit trail (calls, failed upstream hops, connections lost), and how many of its tool
 * definitions wait in quarantine, linked to its tool integrity page (tools.ts).
 */
import { isStdioServer } from '../../config/index.js';
import type { PageContext, Route } from '../context.js';
import { escapeHtml, href, table, text, when } from '../html.js';

const HOUR_MS = 3_600_000;

export interface UpstreamHealth {
  calls: number;
  failed: number;
  down: number;
  lastDown?: string;
}

/** Per upstream, from the last hour of audit events. */
export async function upstreamHealth(ctx: PageContext): Promise<Map<string, UpstreamHealth>> {
  const out = new Map<string, UpstreamHealth>();
  for (const name of Object.keys(ctx.services.config.mcpServers)) out.set(name, { calls: 0, failed: 0, down: 0 });
  const since = new Date(ctx.now() - HOUR_MS).toISOString();
  for (const e of await ctx.services.store.audit.trace({ since, limit: 10_000 })) {
    const h = e.upstream ? out.get(e.upstream) : undefined;
    if (!h) continue;
    if (e.method === 'upstream/down') {
      h.down++;
      h.lastDown = e.time;
    } else if (e.method === 'tools/call' && e.upstreamStatus) {
      h.calls++;
      if (e.upstreamStatus === 'timeout' || e.upstreamStatus === 'unavailable' || e.upstreamStatus === 'invalid') h.failed++;
    }
  }
  return out;
}

export function healthText(h: UpstreamHealth | undefined): string {
  if (!h) return '<span class="none">unknown</span>';
  const state = h.down > 0 || h.failed > 0 ? '<span class="bad">degraded</span>' : h.calls === 0 ? '<span class="none">no calls</span>' : '<span class="ok">healthy</span>';
  return `${state}: ${h.calls} calls, ${h.failed} failed hops, ${h.down} connections lost${h.lastDown ? ` (last ${when(h.lastDown)})` : ''}`;
}

async function upstreams(ctx: PageContext) {
  const health = await upstreamHealth(ctx);
  const waiting = new Map<string, number>();
  for (const p of (await ctx.services.integrity?.store.list({ state: 'pending' })) ?? []) waiting.set(p.upstream, (waiting.get(p.upstream) ?? 0) + 1);
  const rows = Object.entries(ctx.services.config.mcpServers).map(([name, s]) => [
    text(name),
    escapeHtml(isStdioServer(s) ? 'stdio' : 'http'),
    text(s.environment ?? 'prod'),
    text(s.tenant),
    s.trustAnnotations ? 'trusted' : 'not trusted (unannotated tools count as write + destructive)',
    text((s.dataClasses ?? []).join(', ')),
    text(Object.entries(s.tools ?? {}).map(([glob, c]) => `${glob}: ${JSON.stringify(c)}`).join('; ')),
    s.disabled ? 'disabled' : healthText(health.get(name)),
    ctx.services.integrity === undefined
      ? '<span class="none">not kept</span>'
      : `<a href="${href(`/console/upstreams/${name}/tools`)}">${waiting.get(name) ? `<span class="bad">${waiting.get(name)} quarantined</span>` : 'pins'}</a>`,
  ]);
  return {
    title: 'Upstreams and tools',
    body: `${table(['Server', 'Transport', 'Environment', 'Tenant', 'Annotations', 'Data classes', 'Classification rules', 'Health (last hour)', 'Tool integrity'], rows, `${rows.length} configured servers`, 'No server is configured.')}`,
  };
}

export const UPSTREAM_ROUTES: Route[] = [{ method: 'GET', path: /^\/console\/upstreams$/, role: 'viewer', nav: '/console/upstreams', handle: (ctx) => upstreams(ctx) }];
