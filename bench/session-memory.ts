// Memory of one replica under many sessions (`node --import tsx bench/session-memory.ts`, after `npm run build`):
// BENCH_SESSIONS (default 1000) sessions, each initialize, tools/list and one call to each of two stdio
// upstreams (server-everything), with the default share mode (per-user). Reports the gateway's RSS plus
// every process under it (the upstreams), and how many upstream processes ran. Target: under 500 MB.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { McpHttpSession } from './mcp-http-client.js';
import { EVERYTHING_JS, RESULTS_DIR, ROOT, WARDEN_JS } from './paths.js';
import { installExitHandlers, spawnChild, stopAll, waitForOutput } from './procs.js';
import { makeTmpDir } from './targets.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS) > 0 ? Number(process.env.BENCH_SESSIONS) : 1000;
const PARALLEL = 20;
const TARGET_MB = 500;

/** Resident memory (kB) of `pid` and every process below it, and how many there are. */
function treeRss(pid: number): { kb: number; processes: number } {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  let kb = 0;
  let processes = 0;
  const visit = (p: number): void => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
      processes++;
    } catch {
      return;
    }
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return { kb, processes };
}

async function main(): Promise<void> {
  installExitHandlers();
  const dir = makeTmpDir();
  const everything = { command: process.execPath, args: [EVERYTHING_JS, 'stdio'] };
  const config = {
    listen: '127.0.0.1:0',
    store: path.join(dir, 'warden.db'),
    auth: { mode: 'none' },
    log: { level: 'error' },
    policy: { files: [path.join(ROOT, 'test', 'fixtures', 'policies', 'allow-all.cedar')] },
    limits: { maxSessions: SESSIONS + 10, maxSessionsPerPrincipal: SESSIONS + 5, sessionsPerMinutePerPrincipal: SESSIONS * 10 },
    mcpServers: { one: everything, two: everything },
  };
  const file = path.join(dir, 'warden.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  const warden = spawnChild('mcp-warden', process.execPath, [WARDEN_JS, 'serve', '--config', file], { cwd: ROOT });
  const url = (await waitForOutput(warden, /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/, 20_000))[1] as string;
  const idle = treeRss(warden.proc.pid!);
  const started = Date.now();
  const open: McpHttpSession[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < SESSIONS) {
        next++;
        const s = new McpHttpSession(url, 1);
        await s.initialize(30_000);
        await s.request('tools/list', {}, 30_000);
        for (const tool of ['one__echo', 'two__echo']) {
          const r = await s.callTool(tool, { message: 'hi' }, 30_000);
          if (r.error || r.result?.isError) throw new Error(`${tool}: ${JSON.stringify(r.error ?? r.result)}`);
        }
        open.push(s);
      }
    }),
  );
  const loaded = treeRss(warden.proc.pid!);
  const seconds = (Date.now() - started) / 1000;
  // The sessions stay open; their clients' TCP connections close (a session is not a socket).
  for (const s of open) s.agent.destroy();
  await new Promise((r) => setTimeout(r, 5_000));
  const settled = treeRss(warden.proc.pid!);
  const result = {
    sessions: open.length,
    seconds: Number(seconds.toFixed(1)),
    idleMb: Math.round(idle.kb / 1024),
    rssMb: Math.round(loaded.kb / 1024),
    rssMbSocketsClosed: Math.round(settled.kb / 1024),
    upstreamProcesses: loaded.processes - 1,
    targetMb: TARGET_MB,
    met: Math.max(loaded.kb, settled.kb) / 1024 < TARGET_MB,
    at: new Date().toISOString(),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, 'session-memory.json'), `${JSON.stringify(result, null, 2)}\n`);
  await Promise.all(open.map((s) => s.close().catch(() => undefined)));
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch(async (err: unknown) => {
  process.stderr.write(`session-memory: ${(err as Error).message}\n`);
  await stopAll();
  process.exit(1);
});
