/**
 * `warden demo`: the gateway on the embedded store in front of three reference servers from npm
 * (everything, filesystem on a fresh folder, memory), a short scripted session through it, and where the
 * audit lives. Everything it needs was installed by `npm install`, so it works offline.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ListToolsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { stringify } from 'yaml';
import { verifyAudit } from '../audit/verify.js';
import { validateConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { formatEvent } from './audit.js';
import { startGateway } from './start-gateway.js';

const require = createRequire(import.meta.url);

/** The installed entry script of a reference server package. */
function serverEntry(pkg: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'dist', 'index.js');
}

function say(line = ''): void {
  process.stdout.write(line + '\n');
}

export async function demo(): Promise<void> {
  const dir = resolve('.warden', 'demo');
  const data = join(dir, 'files');
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, 'hello.txt'), 'Hello from a file behind mcp-warden.\n');
  const raw = {
    listen: '127.0.0.1:0',
    store: 'warden.db',
    auth: { mode: 'none' },
    log: { level: 'error' },
    mcpServers: {
      everything: { command: process.execPath, args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'] },
      files: { command: process.execPath, args: [serverEntry('@modelcontextprotocol/server-filesystem'), data] },
      memory: { command: process.execPath, args: [serverEntry('@modelcontextprotocol/server-memory')], env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') } },
    },
  };
  const configFile = join(dir, 'warden.yaml');
  writeFileSync(configFile, stringify(raw));
  const config = validateConfig(raw, configFile);
  const running = await startGateway(config, dir, createLogger('error'), configFile);
  const client = new Client({ name: 'warden-demo', version: '1.0.0' });
  try {
    say(`mcp-warden demo: one MCP endpoint at ${running.url} in front of ${Object.keys(raw.mcpServers).join(', ')}`);
    await client.connect(new StreamableHTTPClientTransport(new URL(running.url)));
    const { tools } = await client.request({ method: 'tools/list' }, ListToolsResultSchema);
    const byServer = new Map<string, number>();
    for (const t of tools) byServer.set(t.name.split('__')[0]!, (byServer.get(t.name.split('__')[0]!) ?? 0) + 1);
    say(`\n1. tools/list: ${tools.length} tools, named <server>__<tool>: ${[...byServer].map(([s, n]) => `${s} ${n}`).join(', ')}`);

    const call = async (name: string, args: Record<string, unknown>) => {
      const r = await client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema);
      const text = r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ').replace(/\s+/g, ' ').trim();
      return text.length > 100 ? text.slice(0, 97) + '...' : text;
    };
    say(`2. everything__echo -> ${await call('everything__echo', { message: 'hello through the gateway' })}`);
    say(`3. files__read_text_file hello.txt -> ${await call('files__read_text_file', { path: join(data, 'hello.txt') })}`);
    await call('memory__create_entities', { entities: [{ name: 'mcp-warden', entityType: 'gateway', observations: ['fronts three servers'] }] });
    say(`4. memory__create_entities, then memory__read_graph -> ${await call('memory__read_graph', {})}`);
    try {
      await call('nosuch__tool', {});
    } catch (err) {
      say(`5. an unknown tool is refused with a clear error -> ${(err as Error).message}`);
    }

    const events = await running.store.audit.tail({ limit: 12 });
    say(`\nThe audit log recorded every request (newest ${events.length}):`);
    for (const e of events) say('  ' + formatEvent(e));
    const chain = await verifyAudit(running.store);
    say(`\nEvery event is hash-chained: the chain of ${chain.events} events verifies ${chain.ok ? 'intact' : 'BROKEN'}.`);
    say(`\nAudit store: ${running.store.location}`);
    say(`Read it again:   npx warden audit tail --config ${configFile}`);
    say(`Verify it:       npx warden audit verify --config ${configFile}`);
    say(`Serve this setup: npx warden serve --config ${configFile}   (then point an MCP client at /mcp)`);
  } finally {
    await client.close().catch(() => undefined);
    await running.close();
  }
}
