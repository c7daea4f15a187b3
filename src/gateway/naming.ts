/**
 * Names the gateway exposes for federated tools and prompts. With several upstreams a name is
 * `<server><separator><name>`; every exposed name satisfies ^[a-zA-Z0-9_-]{1,64}$ so that every LLM API
 * accepts it, and a longer or unsafe name is shortened deterministically with a short hash of the original.
 */
import { createHash } from 'node:crypto';

export const EXPOSED_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;
const HASH_LEN = 8;

export function exposedName(server: string, name: string, prefixed: boolean, separator: string): string {
  const full = prefixed ? `${server}${separator}${name}` : name;
  if (EXPOSED_NAME.test(full)) return full;
  const safe = full.replace(/[^a-zA-Z0-9_-]/g, '_');
  const hash = createHash('sha256').update(full).digest('hex').slice(0, HASH_LEN);
  if (safe.length <= MAX && safe !== full) {
    // Replaced characters could make two names collide, so the hash goes on unless the name was only long.
    const base = safe.slice(0, MAX - HASH_LEN - 1);
    return `${base}_${hash}`;
  }
  return `${safe.slice(0, MAX - HASH_LEN - 1)}_${hash}`;
}

/**
 * The configured server an exposed tool name belongs to (for task grants, before any list is fetched):
 * with prefixes, the server whose `<name><separator>` starts it; without, the only server. Undefined when
 * none or several could.
 */
export function serverOfExposedName(exposed: string, servers: readonly string[], prefix: 'auto' | 'always' | 'never', separator: string): string | undefined {
  const prefixed = prefix === 'always' || (prefix === 'auto' && servers.length > 1);
  if (!prefixed) return servers.length === 1 ? servers[0] : undefined;
  const owners = servers.filter((s) => exposed.startsWith(`${s}${separator}`));
  return owners.length === 1 ? owners[0] : undefined;
}
