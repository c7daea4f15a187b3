// Peer stdio->HTTP bridges in front of the same stdio upstream (server-everything), for comparison.
import { EVERYTHING_JS, MCP_PROXY_JS, ROOT, SUPERGATEWAY_JS } from './paths.js';
import { freePort, spawnChild, waitForPort } from './procs.js';
import { startWarden, type Target } from './targets.js';

export type PeerName = 'mcp-proxy' | 'supergateway' | 'mcp-warden';

export const PEER_FLAGS: Record<PeerName, string> = {
  'mcp-proxy': '--host 127.0.0.1 --port N --server stream -- node server-everything stdio',
  supergateway: '--stdio "node server-everything stdio" --outputTransport streamableHttp --stateful --port N --logLevel none',
  'mcp-warden': 'serve --config FILE (mcpServers.everything: command node, args [server-everything, stdio])',
};

/** Graceful stop time per peer (supergateway waits up to 5 s for its own children). */
export const PEER_GRACE_MS: Record<PeerName, number> = { 'mcp-proxy': 3000, supergateway: 7000, 'mcp-warden': 3000 };

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export async function startMcpProxy(): Promise<Target> {
  const port = await freePort();
  const child = spawnChild('mcp-proxy', process.execPath, [
    MCP_PROXY_JS, '--host', '127.0.0.1', '--port', String(port), '--server', 'stream', '--', process.execPath, EVERYTHING_JS, 'stdio',
  ], { cwd: ROOT });
  await waitForPort(child, port, 20_000);
  return { name: 'mcp-proxy', url: `http://127.0.0.1:${port}/mcp`, child };
}

export async function startSupergateway(): Promise<Target> {
  const port = await freePort();
  const child = spawnChild('supergateway', process.execPath, [
    SUPERGATEWAY_JS, '--stdio', `${shq(process.execPath)} ${shq(EVERYTHING_JS)} stdio`,
    '--outputTransport', 'streamableHttp', '--stateful', '--port', String(port), '--logLevel', 'none',
  ], { cwd: ROOT });
  await waitForPort(child, port, 20_000);
  return { name: 'supergateway', url: `http://127.0.0.1:${port}/mcp`, child };
}

export function startWardenStdio(tmpDir: string): Promise<Target> {
  return startWarden({ everything: { command: process.execPath, args: [EVERYTHING_JS, 'stdio'] } }, tmpDir, 'stdio');
}

export function startPeer(name: PeerName, tmpDir: string): Promise<Target> {
  switch (name) {
    case 'mcp-proxy': return startMcpProxy();
    case 'supergateway': return startSupergateway();
    case 'mcp-warden': return startWardenStdio(tmpDir);
  }
}
