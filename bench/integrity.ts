// Tool integrity on tools/list with 500 tools: two in-process gateways in front of the same 500-tool HTTP
// upstream, one with `integrity: off`, one with `trust-on-first-use` (pins recorded, every definition
// digested and scanned, quarantine and findings applied to the list). Measured interleaved, both warm (one
// session listing again: the catalog is cached, the guard filters) and cold (a new session's first list:
// the upstream is listed and every definition assessed). Run alone: node --import tsx bench/integrity.ts
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startGateway, type RunningGateway } from '../src/cli/start-gateway.js';
import { IntegrityGuard } from '../src/integrity/index.js';
import { openStore } from '../src/store/index.js';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/telemetry/log.js';
import { McpHttpSession } from './mcp-http-client.js';
import { writeMasterKey } from './targets.js';

export interface IntegrityOverhead {
  tools: number;
  /** The guard's own work per list, in-process (less noisy than the end-to-end difference on a shared machine). */
  inProcess: { warmFilterMs: number; coldAssessMs: number; firstSightMs: number };
  warm: { offP50Ms: number; onP50Ms: number; addedPct: number; samples: number };
  cold: { offP50Ms: number; onP50Ms: number; addedPct: number; samples: number };
  shown: number;
  /** The guard's work as a share of the list's p50 with integrity off: warm and cold. */
  addedPct: { warm: number; cold: number };
}

const TOOLS = 500;
const WORDS = ['Read', 'Write', 'List', 'Search', 'Create', 'Update', 'Delete', 'Fetch', 'Summarize', 'Convert'];
const tools = Array.from({ length: TOOLS }, (_, i) => ({
  name: `${WORDS[i % WORDS.length]!.toLowerCase()}_item_${i}`,
  description: `${WORDS[i % WORDS.length]} an item of kind ${i % 17} in the workspace. Returns the item as JSON with its id, name, owner and timestamps. Fails when the item does not exist or the caller lacks access.`,
  inputSchema: { type: 'object', properties: { id: { type: 'string', description: 'The item id' }, workspace: { type: 'string', description: 'The workspace slug' }, limit: { type: 'integer', default: 50, description: 'Most items returned' } }, required: ['id'] },
  annotations: { readOnlyHint: i % 3 === 0 },
}));

function startUpstream(): Promise<{ url: string; close: () => Promise<void> }> {
  const body = (id: unknown, result: unknown) => JSON.stringify({ jsonrpc: '2.0', id, result });
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(raw || '{}') as { id?: unknown; method?: string; params?: Record<string, unknown> };
      if (msg.id === undefined) return void res.writeHead(202).end();
      const result =
        msg.method === 'initialize'
          ? { protocolVersion: typeof msg.params?.protocolVersion === 'string' ? msg.params.protocolVersion : '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'bench-500', version: '1' } }
          : msg.method === 'tools/list'
            ? { tools }
            : {};
      res.writeHead(200, { 'content-type': 'application/json' }).end(body(msg.id, result));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://127.0.0.1:${port}/mcp`, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function listOnce(s: McpHttpSession): Promise<{ ms: number; shown: number }> {
  const t = performance.now();
  const r = await s.request('tools/list', {}, 30_000);
  const ms = performance.now() - t;
  const shown = ((r.result?.tools ?? []) as unknown[]).length;
  if (shown === 0) throw new Error(`tools/list showed nothing: ${JSON.stringify(r.error)}`);
  return { ms, shown };
}

/** The guard alone on 500 tools: the first sight (scan, digest, 500 pins), a list seen before, the list filter. */
async function inProcess(): Promise<IntegrityOverhead['inProcess']> {
  const store = await openStore(':memory:');
  try {
    const guard = new IntegrityGuard({ store: store.integrity, mode: () => 'trust-on-first-use', settings: () => ({ maxDescriptionChars: 4000, allowedHosts: [], scanResults: false, refreshMs: 2000 }), ownHosts: () => [], onEvent: () => undefined });
    const fresh = () => new Map([['bench', JSON.parse(JSON.stringify(tools)) as Record<string, unknown>[]]]);
    const exposed = (u: string, n: string) => `${u}__${n}`;
    let t = performance.now();
    await guard.assess('tool', fresh(), exposed);
    const firstSightMs = performance.now() - t;
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < 30; i++) {
      const lists = fresh();
      t = performance.now();
      const a = (await guard.assess('tool', lists, exposed)).get('bench')!;
      cold.push(performance.now() - t);
      t = performance.now();
      await guard.fresh();
      let shown = 0;
      for (const item of lists.get('bench')!) if (guard.visible('bench', 'tool', String(item.name), a.get(String(item.name)))) shown++;
      warm.push(performance.now() - t);
      if (shown !== TOOLS) throw new Error(`the guard hid ${TOOLS - shown} benign tools`);
    }
    return { warmFilterMs: round(p50(warm)), coldAssessMs: round(p50(cold)), firstSightMs: round(firstSightMs, 1) };
  } finally {
    await store.close();
  }
}

export async function measureIntegrityOverhead(rounds = 5, warmPerRound = 60, coldPerRound = 8): Promise<IntegrityOverhead> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-integrity-'));
  const upstream = await startUpstream();
  const policy = path.join(dir, 'allow.cedar');
  fs.writeFileSync(policy, 'permit (principal, action, resource);\n');
  const gateways: Record<'off' | 'on', RunningGateway> = {} as never;
  // Every gateway needs a vault master key (its signing keys are sealed under it).
  const masterKeyFile = writeMasterKey(dir);
  try {
    for (const [key, mode] of [['off', 'off'], ['on', 'trust-on-first-use']] as const) {
      const config = validateConfig({ listen: '127.0.0.1:0', store: path.join(dir, `${key}.db`), vault: { masterKeyFile }, auth: { mode: 'none' }, policy: { files: [policy] }, log: { level: 'error' }, limits: { sessionsPerMinutePerPrincipal: 100_000 }, mcpServers: { bench: { url: upstream.url, integrity: mode } } }, 'bench');
      gateways[key] = await startGateway(config, dir, createLogger('error'));
    }
    const warm: Record<'off' | 'on', number[]> = { off: [], on: [] };
    const cold: Record<'off' | 'on', number[]> = { off: [], on: [] };
    const sessions: Record<'off' | 'on', McpHttpSession> = { off: new McpHttpSession(gateways.off.url, 2), on: new McpHttpSession(gateways.on.url, 2) };
    let shown = 0;
    for (const k of ['off', 'on'] as const) {
      await sessions[k].initialize();
      for (let i = 0; i < 20; i++) shown = (await listOnce(sessions[k])).shown; // pins recorded, JIT warm
    }
    for (let r = 0; r < rounds; r++) {
      for (const k of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        for (let i = 0; i < warmPerRound; i++) warm[k].push((await listOnce(sessions[k])).ms);
        for (let i = 0; i < coldPerRound; i++) {
          const s = new McpHttpSession(gateways[k].url, 2);
          await s.initialize();
          cold[k].push((await listOnce(s)).ms);
          await s.close();
        }
      }
    }
    await Promise.all([sessions.off.close(), sessions.on.close()]);
    const row = (x: Record<'off' | 'on', number[]>) => ({ offP50Ms: round(p50(x.off)), onP50Ms: round(p50(x.on)), addedPct: round(((p50(x.on) - p50(x.off)) / p50(x.off)) * 100, 1), samples: x.on.length });
    const guard = await inProcess();
    const w = row(warm);
    const c = row(cold);
    const addedPct = { warm: round((guard.warmFilterMs / w.offP50Ms) * 100, 2), cold: round(((guard.coldAssessMs + guard.warmFilterMs) / c.offP50Ms) * 100, 2) };
    return { tools: TOOLS, inProcess: guard, warm: w, cold: c, shown, addedPct };
  } finally {
    await Promise.all(Object.values(gateways).map((g) => g.close().catch(() => undefined)));
    await upstream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  measureIntegrityOverhead().then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
