/**
 * `warden demo`: the gateway on the embedded store in front of three reference servers from npm
 * (everything, filesystem on a fresh folder, memory), a short scripted session through it, and where the
 * audit lives. Everything it needs was installed by `npm install`, so it works offline.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ListToolsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { stringify } from 'yaml';
import { verifyAudit } from '../audit/verify.js';
import { validateConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { formatEvent } from './audit.js';
import type { ApprovalRecord } from '../store/types.js';
import { approvalServiceFor } from './services.js';
import { startGateway, type RunningGateway } from './start-gateway.js';

const require = createRequire(import.meta.url);

/** The installed entry script of a reference server package. */
function serverEntry(pkg: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'dist', 'index.js');
}

const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));

/** On top of the starter pack: memory writes that destroy nothing, and file writes under the demo folder only. */
const demoPolicy = (data: string) => `// The demo's own grants, next to the starter pack (starter.cedar).
@id("demo-memory-writes")
@reason("the demo lets agents add to the memory graph")
permit (principal is Agent, action == Action::"call_tool", resource is Tool)
when { principal has tenant && resource has tenant && principal.tenant == resource.tenant && resource.server == "memory" && !resource.destructive };

@id("demo-file-writes")
@reason("file writes only inside the demo folder")
permit (principal is Agent, action == Action::"call_tool", resource == Tool::"files__write_file")
when { context.listing || (context.arguments has path && context.arguments.path like "${data}/*") };
`;

/** The first pending approval request (the demo's held call opens it a moment after it is sent). */
async function firstPending(running: RunningGateway): Promise<ApprovalRecord> {
  for (let i = 0; i < 200; i++) {
    const [r] = await running.store.approvals.list({ state: 'pending', limit: 1 });
    if (r) return r;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('the held call opened no approval request');
}

/** The demo's own master key file (made once, readable by its owner only); in real use it comes from a secret store. */
function demoMasterKey(dir: string): string {
  const file = join(dir, 'master.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return 'master.key';
}

function say(line = ''): void {
  process.stdout.write(line + '\n');
}

export async function demo(): Promise<void> {
  const dir = resolve('.warden', 'demo');
  const data = join(dir, 'files');
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, 'hello.txt'), 'Hello from a file behind mcp-warden.\n');
  mkdirSync(join(dir, 'policies'), { recursive: true });
  copyFileSync(STARTER, join(dir, 'policies', 'starter.cedar'));
  writeFileSync(join(dir, 'policies', 'demo.cedar'), demoPolicy(data));
  const labels = { tenant: 'demo', trustAnnotations: true };
  const raw = {
    listen: '127.0.0.1:0',
    store: 'warden.db',
    auth: { mode: 'none' },
    // Without authentication the caller is the agent "anonymous"; registering it gives it a tenant.
    agents: { anonymous: { tenant: 'demo', description: 'the demo client' } },
    policy: { files: ['policies'] },
    // Destructive calls in prod wait for one of these people (the demo approves as alice).
    approvals: { approvers: ['alice'], holdSeconds: 30 },
    // Approvers are shown each held call in full, kept encrypted under this key (made for the demo) meanwhile.
    vault: { masterKeyFile: demoMasterKey(dir) },
    log: { level: 'error' },
    mcpServers: {
      everything: { command: process.execPath, args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'], environment: 'dev', ...labels },
      files: { command: process.execPath, args: [serverEntry('@modelcontextprotocol/server-filesystem'), data], environment: 'prod', ...labels },
      memory: { command: process.execPath, args: [serverEntry('@modelcontextprotocol/server-memory')], env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') }, environment: 'dev', ...labels },
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
    say(`   (policy: the starter pack plus policies/demo.cedar; tools no policy permits, like files__move_file, are not listed)`);

    const call = async (name: string, args: Record<string, unknown>) => {
      const r = await client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema);
      const text = r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ').replace(/\s+/g, ' ').trim();
      return text.length > 100 ? text.slice(0, 97) + '...' : text;
    };
    say(`2. everything__echo -> ${await call('everything__echo', { message: 'hello through the gateway' })}`);
    say(`3. files__read_text_file hello.txt -> ${await call('files__read_text_file', { path: join(data, 'hello.txt') })}`);
    await call('memory__create_entities', { entities: [{ name: 'mcp-warden', entityType: 'gateway', observations: ['fronts three servers'] }] });
    say(`4. memory__create_entities, then memory__read_graph -> ${await call('memory__read_graph', {})}`);
    const refused = async (name: string, args: Record<string, unknown>): Promise<string> =>
      call(name, args).then(
        (text) => `NOT refused: ${text}`,
        (err: unknown) => (err as Error).message,
      );
    const held = call('files__write_file', { path: join(data, 'notes.txt'), content: 'approved by a human' });
    const request = await firstPending(running);
    say(`5. files__write_file in the demo folder (destructive, prod) is held: approval request ${request.id}, "${request.reason}"`);
    await approvalServiceFor(config, running.store.approvals)?.decide(request.id, 'alice', 'approved', 'demo');
    say(`   alice approves it (npx warden approvals approve ${request.id} --as alice) -> ${await held}`);
    say(`6. files__write_file to ${join(data, '..', 'escape.txt')} -> ${await refused('files__write_file', { path: `${data}/../escape.txt`, content: 'x' })}`);
    say(`7. an unknown tool is refused with a clear error -> ${await refused('nosuch__tool', {})}`);

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
