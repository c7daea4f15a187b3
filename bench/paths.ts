// Paths shared by the benchmark files.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '..');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const EVERYTHING_JS = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
export const MCP_PROXY_JS = path.join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs');
export const SUPERGATEWAY_JS = path.join(ROOT, 'node_modules/supergateway/dist/index.js');
export const WARDEN_JS = path.join(ROOT, 'bin/warden.js');

/**
 * argv for running a TypeScript file of this directory with tsx in a child node process. Bench
 * fixtures (load generator, minimal upstream) get a larger young generation: far fewer scavenges,
 * so fewer event-loop pauses in the measuring tools themselves.
 */
export function tsNodeArgs(file: string, ...args: string[]): string[] {
  return ['--max-semi-space-size=64', '--import', 'tsx', path.join(BENCH_DIR, file), ...args];
}
