// Policy decision latency, in-process: the compiled engine (src/policy) against cedar-wasm's stateful
// authorizer (policies and schema pre-parsed), for 10, 100 and 1,000 generated policies of a gateway-like
// shape (tenant checks, `in` groups, tool classification attributes, argument constraints) and a
// ~10-entity slice per decision; plus the cost of filtering a 500-tool list (500 decisions).
// Run alone: node --import tsx bench/policy-latency.ts
import { performance } from 'node:perf_hooks';
import { preparsePolicySet, preparseSchema, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { loadPolicyEngine, type DecisionRequest, type EntityJson, type PolicyEngine } from '../src/policy/index.js';

export interface UsStats {
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  meanUs: number;
}

export interface MsStats {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
}

export interface PolicyLatencyRow {
  policies: number;
  /** Policies evaluated by cedar-wasm instead of compiled code (0: fully compiled). */
  fallbackPolicies: number;
  compiledUs: UsStats;
  cedarStatefulUs: UsStats;
  /** cedar p50 / compiled p50. */
  speedup: number;
  /** Compiled and cedar-wasm agreed on decision and reasons for every measured request. */
  agrees: boolean;
}

export interface ListFilterCost {
  policies: number;
  tools: number;
  /** One decideEach call over the 500 tools (entities read once), total ms per list. */
  compiledBatchMs: MsStats;
  /** 500 separate decide calls, each with its own ~10-entity slice, total ms per list. */
  compiledSeparateMs: MsStats;
  /** 500 statefulIsAuthorized calls with per-tool slices, total ms per list. */
  cedarStatefulMs: MsStats;
  allowed: number;
}

export interface PolicyLatency {
  rows: PolicyLatencyRow[];
  listFilter: ListFilterCost;
  /** The measured compiled p50 at 100 policies against the goal. */
  target: { p50UsAt100: number; goalUs: number; met: boolean };
}

const SCHEMA = `
entity Group in [Group];
entity User in [Group] { tenant: String };
entity Agent in [Group] { tenant: String, owner: User, trust: Long };
entity Server { tenant: String, environment: String };
entity Tool in [Server] {
  tenant: String, access: String, destructive: Bool, openWorld: Bool, risk: String,
  dataClasses: Set<String>, environment: String, server: Server,
};
type Ctx = { args: { path?: String, query?: String, limit?: Long }, depth: Long, approved: Bool, transport: String, callsPerMinute: Long };
action list, call_tool appliesTo { principal: [User, Agent], resource: [Tool], context: Ctx };
`;

const TEAMS = 20;
const SERVERS = 10;
const TOOLS_PER_SERVER = 50;
const tenantOf = (i: number): string => `tenant-${i % 4}`;
const toolId = (s: number, t: number): string => `srv${s}__tool-${t}`;
const e = (type: string, id: string) => ({ type, id });
const ref = (type: string, id: string) => ({ __entity: e(type, id) });

/** n policies cycling through eight realistic shapes. */
function policies(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const team = i % TEAMS;
    const srv = i % SERVERS;
    const shapes = [
      `permit(principal in Group::"team-${team}", action == Action::"call_tool", resource in Server::"srv${srv}") when { principal.tenant == resource.tenant && resource.access == "read" };`,
      `permit(principal == Agent::"agent-${i}", action == Action::"call_tool", resource == Tool::"${toolId(srv, i % TOOLS_PER_SERVER)}") when { context.args has path && context.args.path like "/data/agent-${i}/*" };`,
      `forbid(principal, action == Action::"call_tool", resource in Server::"srv${srv}") when { resource.destructive && resource.environment == "prod" && !context.approved };`,
      `permit(principal in Group::"team-${team}", action == Action::"list", resource is Tool) when { principal.tenant == resource.tenant && resource.risk != "critical" };`,
      `forbid(principal in Group::"contractors-${team}", action in [Action::"call_tool", Action::"list"], resource) when { resource.dataClasses.contains("pii") };`,
      `permit(principal is Agent in Group::"team-${team}", action == Action::"call_tool", resource) when { resource.tenant == principal.tenant && resource.access == "write" && context.depth <= 1 && principal.trust >= ${i % 5} };`,
      `forbid(principal, action, resource in Server::"srv${srv}") when { context.depth > 2 || context.callsPerMinute > ${100 + i} };`,
      `permit(principal == Agent::"agent-${i}", action == Action::"call_tool", resource) when { resource.openWorld == false && context.args has limit && context.args.limit < ${10 + i} };`,
    ];
    out.push(`@id("p${i}")\n${shapes[i % shapes.length] as string}`);
  }
  return out.join('\n\n');
}

function tool(s: number, t: number): EntityJson {
  return {
    uid: e('Tool', toolId(s, t)),
    attrs: {
      tenant: tenantOf(s),
      access: ['read', 'write', 'execute'][t % 3] as string,
      destructive: t % 7 === 0,
      openWorld: t % 5 === 0,
      risk: ['low', 'medium', 'high', 'critical'][t % 4] as string,
      dataClasses: t % 6 === 0 ? ['pii'] : [],
      environment: s % 2 === 0 ? 'prod' : 'dev',
      server: ref('Server', `srv${s}`),
    },
    parents: [e('Server', `srv${s}`)],
  };
}

/** The caller's part of a slice: agent, owner, groups (agent-3 acts in tenant-1 as a member of team-3). */
function callerSlice(): EntityJson[] {
  return [
    { uid: e('Agent', 'agent-3'), attrs: { tenant: 'tenant-1', owner: ref('User', 'alice'), trust: 3 }, parents: [e('Group', 'team-3'), e('Group', 'agents')] },
    { uid: e('User', 'alice'), attrs: { tenant: 'tenant-1' }, parents: [e('Group', 'team-3')] },
    { uid: e('Group', 'team-3'), attrs: {}, parents: [e('Group', 'all')] },
    { uid: e('Group', 'agents'), attrs: {}, parents: [e('Group', 'all')] },
    { uid: e('Group', 'all'), attrs: {}, parents: [] },
  ];
}

const server = (s: number): EntityJson => ({ uid: e('Server', `srv${s}`), attrs: { tenant: tenantOf(s), environment: s % 2 === 0 ? 'prod' : 'dev' }, parents: [] });

function requestFor(s: number, t: number, action = 'call_tool'): DecisionRequest {
  return {
    principal: e('Agent', 'agent-3'),
    action: e('Action', action),
    resource: e('Tool', toolId(s, t)),
    context: { args: { path: '/data/agent-3/notes.txt', limit: 5 }, depth: 1, approved: false, transport: 'http', callsPerMinute: 12 },
    entities: [...callerSlice(), server(s), tool(s, t), tool(s, (t + 1) % TOOLS_PER_SERVER), server((s + 1) % SERVERS)],
  };
}

function statsUs(samples: number[]): UsStats {
  const s = Float64Array.from(samples).sort();
  const q = (p: number): number => Math.round((s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number) * 10) / 10;
  return { count: s.length, p50Us: q(0.5), p90Us: q(0.9), p99Us: q(0.99), meanUs: Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 10) / 10 };
}

function time(n: number, fn: (i: number) => void): UsStats {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn(i);
    us.push((performance.now() - t) * 1000);
  }
  return statsUs(us);
}

let setCounter = 0;
function cedarStateful(text: string, engine: PolicyEngine): (req: DecisionRequest) => { decision: string; reasons: string[] } {
  const id = `bench-${setCounter++}`;
  const staticPolicies = Object.fromEntries(text.split('\n\n').map((p, i) => [engine.policies[i]?.id as string, p]));
  if (preparsePolicySet(id, { staticPolicies }).type !== 'success') throw new Error('preparse failed');
  if (preparseSchema('bench-schema', SCHEMA).type !== 'success') throw new Error('schema preparse failed');
  return (req) => {
    const a = statefulIsAuthorized({ ...req, context: req.context as never, entities: req.entities as never, preparsedPolicySetId: id, preparsedSchemaName: 'bench-schema', validateRequest: false });
    if (a.type !== 'success') throw new Error(`cedar-wasm: ${a.errors.map((x) => x.message).join('; ')}`);
    return { decision: a.response.decision, reasons: [...a.response.diagnostics.reason].sort() };
  };
}

/** Requests over varied tools (and both actions), so the measurement is not one cached path. */
const requests = (): DecisionRequest[] => Array.from({ length: 64 }, (_, i) => requestFor(i % SERVERS, (i * 7) % TOOLS_PER_SERVER, i % 4 === 0 ? 'list' : 'call_tool'));

function row(n: number): PolicyLatencyRow {
  const text = policies(n);
  const engine = loadPolicyEngine({ schema: SCHEMA, sources: [{ name: `bench-${n}.cedar`, text }] });
  const cedar = cedarStateful(text, engine);
  const reqs = requests();
  const agrees = reqs.every((r) => {
    const a = engine.decide(r);
    const b = cedar(r);
    return a.decision === b.decision && [...a.reasons].sort().join() === b.reasons.join();
  });
  const m = reqs.length;
  time(5000, (i) => engine.decide(reqs[i % m] as DecisionRequest));
  const compiledUs = time(20_000, (i) => engine.decide(reqs[i % m] as DecisionRequest));
  const cedarN = n >= 1000 ? 200 : 1000;
  time(100, (i) => cedar(reqs[i % m] as DecisionRequest));
  const cedarStatefulUs = time(cedarN, (i) => cedar(reqs[i % m] as DecisionRequest));
  return { policies: n, fallbackPolicies: engine.fallbacks.length, compiledUs, cedarStatefulUs, speedup: Math.round((cedarStatefulUs.p50Us / compiledUs.p50Us) * 10) / 10, agrees };
}

function listFilter(n: number): ListFilterCost {
  const text = policies(n);
  const engine = loadPolicyEngine({ schema: SCHEMA, sources: [{ name: `bench-list-${n}.cedar`, text }] });
  const cedar = cedarStateful(text, engine);
  const all: [number, number][] = [];
  for (let s = 0; s < SERVERS; s++) for (let t = 0; t < TOOLS_PER_SERVER; t++) all.push([s, t]);
  const perTool = all.map(([s, t]) => requestFor(s, t, 'list'));
  const base = perTool[0] as DecisionRequest;
  const batchReq = { ...base, entities: [...callerSlice(), ...Array.from({ length: SERVERS }, (_, s) => server(s)), ...all.map(([s, t]) => tool(s, t))] };
  const resources = perTool.map((r) => r.resource);
  const ms = (x: number): number => Math.round(x) / 1000;
  const toMs = (x: UsStats): MsStats => ({ count: x.count, p50Ms: ms(x.p50Us), p90Ms: ms(x.p90Us), p99Ms: ms(x.p99Us), meanMs: ms(x.meanUs) });
  let allowed = 0;
  time(5, () => engine.decideEach(batchReq, resources));
  const compiledBatchMs = toMs(time(50, () => (allowed = engine.decideEach(batchReq, resources).filter((d) => d.decision === 'allow').length)));
  time(5, () => perTool.forEach((r) => engine.decide(r)));
  const compiledSeparateMs = toMs(time(50, () => perTool.forEach((r) => engine.decide(r))));
  const cedarStatefulMs = toMs(time(3, () => perTool.forEach((r) => cedar(r))));
  return { policies: n, tools: all.length, compiledBatchMs, compiledSeparateMs, cedarStatefulMs, allowed };
}

export async function measurePolicyLatency(): Promise<PolicyLatency> {
  const rows = [10, 100, 1000].map(row);
  const at100 = rows.find((r) => r.policies === 100)?.compiledUs.p50Us ?? NaN;
  return { rows, listFilter: listFilter(100), target: { p50UsAt100: at100, goalUs: 50, met: at100 <= 50 } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  measurePolicyLatency().then((r) => console.log(JSON.stringify(r, null, 2)), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
