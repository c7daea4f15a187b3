/**
 * Adding the moved servers to warden.yaml, keeping what is there (comments included: the yaml document
 * model edits in place). A name already taken by the same entry is that entry (a rerun adds nothing); a
 * name taken by a different one gets a suffix (`github-2`).
 */
import { isMap, parseDocument, type Document } from 'yaml';
import type { SecretHit } from './detect-secrets.js';
import type { ClientConfig, ServerEntry } from './model.js';
import { planServer, wardenName, type MigrationScope, type PlannedServer } from './migrate-plan.js';

export interface GatewayPlan {
  text: string;
  servers: Array<PlannedServer & { status: 'added' | 'present' }>;
  /** Where clients reach the gateway (publicUrl, else http://listen/mcp), from the config as edited. */
  url: string | undefined;
}

/** Key order does not make two entries different. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export const NEW_CONFIG_HEADER = `# mcp-warden configuration. Servers were added by \`warden migrate\`; their secrets are in the vault.
# Set \`auth\` and \`policy\` before serving (see \`warden init\` for a commented example).
`;

function separatorOf(doc: Document): string {
  const s = doc.getIn(['naming', 'separator']);
  return typeof s === 'string' && s !== '' ? s : '__';
}

export function gatewayUrlOf(doc: Document): string | undefined {
  const publicUrl = doc.get('publicUrl');
  if (typeof publicUrl === 'string') return publicUrl;
  const listen = doc.get('listen');
  const addr = typeof listen === 'string' ? listen : '127.0.0.1:7400';
  return /:0$/.test(addr) ? undefined : `http://${addr}/mcp`;
}

export function planGateway(
  existingText: string | undefined,
  config: ClientConfig,
  movable: Array<{ entry: ServerEntry; hits: SecretHit[] }>,
  scope: MigrationScope,
  home: string,
): GatewayPlan {
  const doc = parseDocument(existingText ?? NEW_CONFIG_HEADER + 'mcpServers: {}\n');
  if (doc.errors.length > 0) throw new Error(`warden config is not valid YAML: ${doc.errors[0]!.code}`);
  if (!isMap(doc.get('mcpServers', true))) doc.set('mcpServers', doc.createNode({}));
  const map = doc.get('mcpServers', true);
  if (isMap(map)) map.flow = false;
  const separator = separatorOf(doc);
  const taken = new Set<string>();
  const servers: GatewayPlan['servers'] = [];
  for (const { entry, hits } of movable) {
    const base = wardenName(entry.name, separator);
    for (let k = 1; ; k++) {
      const name = k === 1 ? base : `${base.slice(0, 60)}-${k}`;
      if (taken.has(name)) continue;
      const plan = planServer(config, entry, hits, name, scope, home);
      const existing = doc.getIn(['mcpServers', name]) as { toJSON?: () => unknown } | undefined;
      if (
        existing !== undefined &&
        canonical(existing.toJSON ? existing.toJSON() : existing) !== canonical(plan.config)
      )
        continue;
      taken.add(name);
      if (existing === undefined) doc.setIn(['mcpServers', name], doc.createNode(plan.config));
      servers.push({ ...plan, status: existing === undefined ? 'added' : 'present' });
      break;
    }
  }
  const text = servers.some((s) => s.status === 'added') || existingText === undefined ? doc.toString() : existingText;
  return { text, servers, url: gatewayUrlOf(doc) };
}
