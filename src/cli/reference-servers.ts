/**
 * The reference MCP servers installed with mcp-warden (dependencies in package.json): `init` and `demo` run
 * them with this Node from the installed package, so nothing is downloaded at start (no `npx -y`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export const REFERENCE_SERVERS = {
  everything: '@modelcontextprotocol/server-everything',
  filesystem: '@modelcontextprotocol/server-filesystem',
  memory: '@modelcontextprotocol/server-memory',
} as const;

/** The installed entry script of a reference server package, or undefined where it is not installed. */
export function installedServerEntry(pkg: string): string | undefined {
  try {
    const entry = join(dirname(require.resolve(`${pkg}/package.json`)), 'dist', 'index.js');
    return existsSync(entry) ? entry : undefined;
  } catch {
    return undefined;
  }
}
