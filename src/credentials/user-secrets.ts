/**
 * Per-user upstream credentials. A server's `userSecrets` maps a user (the human a session acts for) to
 * their own secret for each shared reference: `{ alice: { github/token: github/alice } }`. For alice's
 * sessions every `${secret:github/token}` becomes `${secret:github/alice}` before injection, so her calls
 * use her credential and never the shared one; if hers cannot be resolved, her connection fails rather
 * than falling back.
 */
import type { ServerConfig } from '../config/schema.js';
import { resolveSecret, secretReferences, SecretInjectionError } from './inject.js';
import type { Vault } from './vault.js';

const REFERENCE = /\$\{secret:([^}]*)\}/g;

/** `server` as `user`'s sessions connect it: their mapped secrets in place of the shared ones. */
export function forUser(server: ServerConfig, user: string | null): ServerConfig {
  const map = user === null ? undefined : server.userSecrets?.[user];
  if (map === undefined) return server;
  const swap = (text: string) => text.replace(REFERENCE, (whole, name: string) => (map[name] !== undefined ? `\${secret:${map[name]}}` : whole));
  const swapAll = (r: Record<string, string>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, swap(v)]));
  return 'command' in server ? { ...server, args: server.args.map(swap), env: swapAll(server.env) } : { ...server, url: swap(server.url), headers: swapAll(server.headers) };
}

/**
 * Start-time check of every mapping: it replaces a secret the server refers to, and the user's secret
 * resolves for the server's scope. Returns the problems (server, user, secret; never a value).
 */
export async function checkUserSecrets(servers: Readonly<Record<string, ServerConfig>>, vault: Vault | undefined): Promise<string[]> {
  const problems: string[] = [];
  for (const [upstream, server] of Object.entries(servers)) {
    const referenced = new Set(secretReferences(server).map((u) => u.name));
    for (const [user, map] of Object.entries(server.userSecrets ?? {})) {
      for (const [shared, own] of Object.entries(map)) {
        const at = `mcpServers.${upstream}.userSecrets.${user}`;
        if (!referenced.has(shared)) problems.push(`${at}: maps ${shared}, which the server does not refer to`);
        else if (vault === undefined) problems.push(`${at}: maps ${shared} to ${own}, but no vault master key is available`);
        else {
          try {
            await resolveSecret(vault, upstream, server, own, at);
          } catch (err) {
            problems.push(err instanceof SecretInjectionError ? `${at}: ${err.detail}` : `${at}: secret ${own} cannot be read`);
          }
        }
      }
    }
  }
  return problems;
}
