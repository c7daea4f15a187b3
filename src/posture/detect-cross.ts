/**
 * Rules that look across server entries and files: one credential used in several places, and servers a
 * client reaches directly although the same client also reaches the gateway.
 */
import type { SecretHit } from './detect-secrets.js';
import type { Hit } from './detect-server.js';
import type { ClientConfig, ServerEntry } from './model.js';
import { fingerprint } from './values.js';

export interface Located {
  config: ClientConfig;
  server: ServerEntry;
}

export type CrossHit = Hit & Located;

const base = (s: string): string => s.split(/[\\/]/).pop()!.toLowerCase();
const normalUrl = (u: string): string => u.trim().replace(/\/+$/, '').toLowerCase();

/** A `warden connect` bridge (by any launcher), or an HTTP entry pointing at a known gateway URL. */
export function isGatewayEntry(server: ServerEntry, gatewayUrls: readonly string[]): boolean {
  if (server.url !== undefined && gatewayUrls.some((g) => normalUrl(g) === normalUrl(server.url!))) return true;
  const words = [server.command ?? '', ...server.args];
  const connect = words.indexOf('connect');
  if (connect < 0) return false;
  return words.slice(0, connect).some((w) => ['warden', 'warden.js'].includes(base(w)) || /^mcp-warden(@|$)/.test(w));
}

/** Secrets (8 characters or more) that appear in more than one server entry, reported at every place. */
export function reuseHits(found: Array<Located & { hits: SecretHit[] }>): CrossHit[] {
  const places = new Map<string, Array<Located & { hit: SecretHit }>>();
  for (const f of found) {
    for (const hit of f.hits) {
      for (const secret of hit.secrets) {
        if (secret.length < 8) continue;
        const list = places.get(secret) ?? [];
        list.push({ config: f.config, server: f.server, hit });
        places.set(secret, list);
      }
    }
  }
  const out: CrossHit[] = [];
  const reported = new Set<string>();
  for (const [secret, list] of places) {
    const owners = new Set(list.map((p) => `${p.config.file}\0${p.server.pointer}`));
    if (owners.size < 2) continue;
    for (const p of list) {
      const key = `${p.config.file}\0${p.hit.slot.pointer}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const others = list.filter(
        (o) => `${o.config.file}\0${o.server.pointer}` !== `${p.config.file}\0${p.server.pointer}`,
      );
      const named = [...new Set(others.map((o) => `${o.config.client} server "${o.server.name}" (${o.config.file})`))];
      const more = named.length > 3 ? ` and ${named.length - 3} more` : '';
      out.push({
        rule: 'credential-reuse',
        severity: 'high',
        pointer: p.hit.slot.pointer,
        position: p.hit.slot.position,
        detail: `the same credential (${fingerprint(secret)}) is also used by ${named.slice(0, 3).join(', ')}${more}`,
        config: p.config,
        server: p.server,
      });
    }
  }
  return out;
}

/** Per client: when any of its files reaches the gateway, every other enabled server of that client is a bypass. */
export function bypassHits(configs: readonly ClientConfig[], gatewayUrls: readonly string[]): CrossHit[] {
  const viaGateway = new Set(
    configs
      .filter((c) => c.client !== 'warden' && c.servers.some((s) => !s.disabled && isGatewayEntry(s, gatewayUrls)))
      .map((c) => c.client),
  );
  const out: CrossHit[] = [];
  for (const config of configs) {
    if (!viaGateway.has(config.client)) continue;
    for (const server of config.servers) {
      if (server.disabled || isGatewayEntry(server, gatewayUrls)) continue;
      out.push({
        rule: 'gateway-bypass',
        severity: 'high',
        pointer: server.pointer,
        position: server.position,
        detail: `${config.client} reaches the gateway, but server "${server.name}" directly`,
        config,
        server,
      });
    }
  }
  return out;
}
