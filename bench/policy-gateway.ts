// The gateway's decide step in-process, as a request takes it: GatewayPolicy.readArguments puts the path
// arguments in canonical form (resolved against the upstream's root) and projects them, decideArguments
// builds the entities and context from a Subject and Target and evaluates the main set and the approval set
// once per path. Policies: the starter pack plus generated gateway-schema policies,
// 10 / 100 / 1,000 in all; plus `visible` (a tools/list filter) over 500 tools.
// Run alone: node --import tsx bench/policy-gateway.ts
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadGatewayPolicy, type CallContext, type GatewayPolicy, type Subject, type Target } from '../src/policy/index.js';
import { execFile } from 'node:child_process';
import { ROOT, tsNodeArgs } from './paths.js';

export interface GatewayDecideRow {
  policies: number;
  decideP50Us: number;
  decideP99Us: number;
  /** tools/list filter over 500 tools (list per server + call_tool per tool). */
  filter500P50Ms: number;
  shown: number;
}

/** The root relative path arguments resolve against (an upstream's configured roots). */
const ROOTS = ['/data'];
const STARTER = fs.readFileSync(path.join(ROOT, 'policies', 'starter', 'starter.cedar'), 'utf8');
const SERVERS = 10;
const TOOLS = 50;

export function generated(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const shapes = [
      `permit (principal == Agent::"agent-${i}", action == Action::"call_tool", resource == Tool::"srv${i % SERVERS}__tool-${i % TOOLS}") when { context.listing || (context.arguments has path && context.arguments.path like "/data/agent-${i}/*") };`,
      `permit (principal in Group::"team-${i % 20}", action == Action::"call_tool", resource in Server::"srv${i % SERVERS}") when { resource.access == "read" && resource.risk != "critical" };`,
      `forbid (principal in Group::"contractors-${i % 20}", action, resource is Tool) when { resource.dataClasses.contains("pii") };`,
      `forbid (principal, action == Action::"call_tool", resource in Server::"srv${i % SERVERS}") when { context.risk.callsPerMinute > ${600 + i} };`,
    ];
    out.push(`@id("g${i}")\n${shapes[i % shapes.length] as string}`);
  }
  return out.join('\n\n');
}

const subject: Subject = { agent: 'agent-3', user: 'alice', tenant: 'tenant-1', chain: [], groups: ['team-3'], authMethod: 'oauth-jwt', scopes: ['mcp'] };
const server = (s: number) => ({ name: `srv${s}`, environment: s % 2 === 0 ? ('prod' as const) : ('dev' as const), tenant: `tenant-${s % 2}`, trustAnnotations: true, dataClasses: [] });
const tool = (s: number, t: number): Target => ({
  kind: 'tool',
  server: server(s),
  id: `srv${s}__tool-${t}`,
  name: `tool-${t}`,
  class: { access: (['read', 'write', 'execute'] as const)[t % 3] ?? 'read', destructive: t % 7 === 0, openWorld: false, risk: 'low', dataClasses: t % 6 === 0 ? ['pii'] : [] },
});
const context = (args?: Record<string, unknown>): CallContext => ({ arguments: args, approval: 'none', now: new Date(), client: { transport: 'http', name: 'bench', protocolVersion: '2025-11-25' }, callsPerMinute: 12 });

function percentile(samples: number[], p: number): number {
  const s = Float64Array.from(samples).sort();
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number;
}

function measure(policy: GatewayPolicy, n: number): GatewayDecideRow {
  const targets = Array.from({ length: 64 }, (_, i) => tool(i % SERVERS, (i * 7) % TOOLS));
  // As the gateway decides a call: the path canonicalised (relative, resolved against the upstream's root),
  // then one decision per path in the arguments (here one).
  const one = (i: number) => {
    const read = policy.readArguments({ path: 'agent-3/./notes.txt', content: 'x' }, ROOTS);
    return policy.decideArguments('call_tool', subject, targets[i % targets.length] as Target, context(read.decided), read);
  };
  for (let i = 0; i < 5000; i++) one(i);
  const us: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t = performance.now();
    one(i);
    us.push((performance.now() - t) * 1000);
  }
  const all: Target[] = [];
  for (let s = 0; s < SERVERS; s++) for (let t = 0; t < TOOLS; t++) all.push(tool(s, t));
  const servers = Array.from({ length: SERVERS }, (_, s): Target => ({ kind: 'server', server: server(s) }));
  let shown = 0;
  const filter = () => {
    const open = policy.visible('list', subject, servers, context());
    const candidates = all.filter((t) => open[Number(t.server.name.slice(3))]);
    shown = policy.visible('call_tool', subject, candidates, context()).filter(Boolean).length;
  };
  for (let i = 0; i < 20; i++) filter();
  const ms: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    filter();
    ms.push(performance.now() - t);
  }
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return { policies: n, decideP50Us: r1(percentile(us, 0.5)), decideP99Us: r1(percentile(us, 0.99)), filter500P50Ms: Math.round(percentile(ms, 0.5) * 1000) / 1000, shown };
}

/** Measured here, in this process (the child that measureGatewayDecide starts). */
export function measureGatewayDecideInProcess(): GatewayDecideRow[] {
  const starterCount = loadGatewayPolicy({ sources: [{ name: 'starter.cedar', text: STARTER }] }).policies.length;
  return [10, 100, 1000].map((n) => {
    const policy = loadGatewayPolicy({ sources: [{ name: 'starter.cedar', text: STARTER }, { name: 'generated.cedar', text: generated(n - starterCount) }] });
    return measure(policy, policy.policies.length);
  });
}

/**
 * Runs the measurement in a child process: after the other in-process sections, Node 20's V8 once aborted
 * here ("unreachable code" in the deoptimizer); a crash then costs this section only, not the whole run.
 */
export function measureGatewayDecide(): Promise<GatewayDecideRow[] | { error: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, tsNodeArgs('policy-gateway.ts', '--json'), { cwd: ROOT, maxBuffer: 1 << 20, timeout: 300_000 }, (err, stdout) => {
      if (err) return resolve({ error: `the measuring process failed: ${err.message.split('\n')[0]}` });
      resolve(JSON.parse(stdout) as GatewayDecideRow[]);
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = measureGatewayDecideInProcess();
  console.log(process.argv.includes('--json') ? JSON.stringify(rows) : rows);
}
