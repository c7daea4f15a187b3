/**
 * Secrets: what the vault holds, as metadata only (name, scope, version, the master key's fingerprint, when
 * written, age). The store's `list` never returns a value or key material, so this page cannot show one.
 */
import type { PageContext, Route } from '../context.js';
import { table, text, when } from '../html.js';

const DAY_MS = 86_400_000;

async function secrets(ctx: PageContext) {
  const rows = await ctx.services.store.secrets.list();
  const now = ctx.now();
  const age = (iso: string) => `${Math.max(0, Math.floor((now - Date.parse(iso)) / DAY_MS))} days`;
  return {
    title: 'Secrets',
    body: `<p>Metadata only: values never leave the vault, and this page never shows one. Rotate with <code>warden secret set</code>.</p>
${table(['Name', 'Tenant', 'Environment', 'Upstream', 'Version', 'Master key', 'Created', 'Last written', 'Age'], rows.map((s) => [text(s.name), text(s.tenant), text(s.environment), text(s.upstream), String(s.version), `<code>${text(s.keyId)}</code>`, when(s.createdAt), when(s.updatedAt), age(s.updatedAt)]), `${rows.length} secrets`, 'The vault holds no secret.')}`,
  };
}

export const SECRET_ROUTES: Route[] = [{ method: 'GET', path: /^\/console\/secrets$/, role: 'viewer', nav: '/console/secrets', handle: (ctx) => secrets(ctx) }];
