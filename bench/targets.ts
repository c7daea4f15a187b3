// Starting the systems under test: the minimal HTTP upstream and the mcp-warden gateway.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT, WARDEN_JS, tsNodeArgs } from './paths.js';
import { spawnChild, waitForOutput, type Child } from './procs.js';

export interface Target {
  name: string;
  url: string;
  child: Child;
}

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/;

export async function startMinimalUpstream(): Promise<Target> {
  const child = spawnChild('minimal-upstream', process.execPath, tsNodeArgs('minimal-upstream.ts', '--exit-with-parent'), { cwd: ROOT });
  const m = await waitForOutput(child, LISTENING, 15_000);
  return { name: 'minimal-upstream', url: m[1] as string, child };
}

/** The floor proxy (floor-proxy.ts) in front of `upstreamUrl`, with node's default heap settings as the gateway has. */
export async function startFloorProxy(upstreamUrl: string, commits = 0, dbFile?: string): Promise<Target> {
  const args = tsNodeArgs('floor-proxy.ts', `--upstream=${upstreamUrl}`, `--commits=${commits}`, ...(dbFile ? [`--db=${dbFile}`] : []));
  const child = spawnChild(`floor proxy (${commits} commits)`, process.execPath, args.filter((a) => !a.startsWith('--max-semi-space-size')), { cwd: ROOT });
  const m = await waitForOutput(child, LISTENING, 15_000);
  return { name: 'floor-proxy', url: m[1] as string, child };
}

/** Starts `node bin/warden.js serve --config FILE` with the given mcpServers; parses its URL. */
export async function startWarden(mcpServers: Record<string, unknown>, tmpDir: string, label: string): Promise<Target> {
  const dir = fs.mkdtempSync(path.join(tmpDir, `${label}-`));
  // Calls take the whole decision path: the starter policy pack decides each one (the tools are classified
  // read by an operator override, and the caller is given the servers' tenant).
  const servers = Object.fromEntries(
    Object.entries(mcpServers).map(([name, s]) => [name, { ...(s as Record<string, unknown>), tenant: 'bench', tools: { '*': { access: 'read', destructive: false } } }]),
  );
  const config = {
    listen: '127.0.0.1:0',
    store: path.join(dir, 'warden.db'),
    vault: { masterKeyFile: writeMasterKey(dir) },
    auth: { mode: 'none' },
    agents: { anonymous: { tenant: 'bench' } },
    policy: { files: [path.join(ROOT, 'policies', 'starter', 'starter.cedar')] },
    mcpServers: servers,
  };
  const file = path.join(dir, 'warden.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  const child = spawnChild(`mcp-warden (${label})`, process.execPath, [WARDEN_JS, 'serve', '--config', file], { cwd: ROOT });
  const m = await waitForOutput(child, LISTENING, 20_000);
  return { name: 'mcp-warden', url: m[1] as string, child };
}

/** A fresh vault master key file in dir (the gateway keeps its signing keys sealed under it). */
export function writeMasterKey(dir: string): string {
  const file = path.join(dir, 'master.key');
  fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return file;
}

export function makeTmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-'));
}
