/**
 * Policy replay: the impact of a candidate policy set on the calls the gateway has audited. Each audited
 * `tools/call` that reached a policy decision is rebuilt as a decision request (its agent, user, tenant,
 * chain and auth method; its server and tool as the config classifies them; its recorded arguments when
 * `audit.arguments` kept them; its task's grant; its time) and decided twice: by the policy in force and by
 * the candidate. Every call whose decision would change is listed.
 *
 * Both sides are decided on the same rebuilt request, so a difference is the policies' alone. The audit does
 * not keep a tool's annotations: for a server whose annotations are trusted, each classification its
 * annotations could have given is tried, and the one under which the policy in force decides as recorded
 * (effect and policy ids) is used. What cannot be recovered (token scopes, arguments unless
 * `audit.arguments` kept them) is rebuilt the same way for both sides; a call whose re-decision under the
 * policy in force still differs from its record is counted in `unfaithful` and its change marked approximate.
 * Used by the console's Policies page and by `warden policy replay`.
 */
import type { AuditEvent } from '../audit/index.js';
import type { WardenConfig } from '../config/index.js';
import { classifyTool, exposedName, serverFacts, subjectOf } from '../gateway/index.js';
import { ANONYMOUS, type AuthMethod } from '../identity/index.js';
import { evaluate, type Effect, type GatewayPolicy, type PolicyRequest } from '../policy/index.js';
import type { TaskRecord } from '../store/types.js';
import { inGrant } from '../tasks/index.js';

export interface ReplayDecision {
  effect: Effect;
  policyIds: string[];
  reason: string;
}

export interface ReplayChange {
  event: AuditEvent;
  /** False when the policy in force did not re-decide it as recorded: the rebuilt request lacks something. */
  faithful: boolean;
  /** The exposed tool name the policy saw. */
  tool: string;
  current: ReplayDecision;
  candidate: ReplayDecision;
}

export interface ReplayResult {
  /** Calls decided again. */
  replayed: number;
  /** Calls not replayed: their server is no longer configured, or they never reached a policy decision. */
  skipped: number;
  /** Of the replayed, how many re-decided under the policy in force as they were recorded. */
  matchesRecord: number;
  /** Of the replayed, how many did not (`replayed - matchesRecord`). */
  unfaithful: number;
  changes: ReplayChange[];
  currentVersion: string;
  candidateVersion: string;
}

const AUTH_METHODS = new Set(['none', 'oauth-jwt', 'spiffe-jwt', 'mtls', 'gateway-token']);

function parseArguments(raw: string | null | undefined): Record<string, unknown> | undefined {
  if (!raw) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The annotations a tool may have sent, one per classification they give (see gateway/classification.ts). */
const ANNOTATIONS: readonly Record<string, boolean>[] = [
  {},
  { openWorldHint: false },
  { destructiveHint: false },
  { destructiveHint: false, openWorldHint: false },
  { readOnlyHint: true },
  { readOnlyHint: true, openWorldHint: false },
];

/** The decision requests an audited call may have been (one per possible classification), as far as the audit and the config tell. */
function requestsOf(config: WardenConfig, e: AuditEvent, task: TaskRecord | undefined): { requests: PolicyRequest[]; tool: string } | undefined {
  if (e.method !== 'tools/call' || !e.agent || !e.upstream || !e.target || !e.decision) return undefined;
  const server = Object.hasOwn(config.mcpServers, e.upstream) ? config.mcpServers[e.upstream] : undefined;
  if (!server) return undefined;
  const enabled = Object.values(config.mcpServers).filter((s) => !s.disabled).length;
  const prefixed = config.naming.prefix === 'always' || (config.naming.prefix === 'auto' && enabled > 1);
  const tool = exposedName(e.upstream, e.target, prefixed, config.naming.separator);
  const method = (AUTH_METHODS.has(e.authMethod ?? '') ? e.authMethod : 'none') as AuthMethod;
  const subject = subjectOf(config.agents, { ...ANONYMOUS, agent: e.agent, user: e.user, tenant: e.tenant, chain: e.chain, method, task: e.task ?? null });
  const facts = serverFacts(e.upstream, server);
  // Untrusted annotations first: that is the classification when none were sent.
  const variants = server.trustAnnotations === true ? ANNOTATIONS.map((annotations) => ({ name: e.target, annotations })) : [{ name: e.target }];
  const requests = variants.map((t): PolicyRequest => ({
    action: 'call_tool',
    subject,
    target: { kind: 'tool', server: facts, id: tool, name: e.target!, class: classifyTool(server, t) },
    context: {
      ...(task ? { task: { id: task.id, purpose: task.purpose, tools: task.tools, servers: task.servers } } : {}),
      approval: 'none',
      now: new Date(e.time),
      client: { transport: 'http', name: 'replay', protocolVersion: e.protocolVersion ?? '' },
      callsPerMinute: 0,
    },
    arguments: parseArguments(e.arguments) ?? {},
    listing: false,
  }));
  return { requests, tool };
}

const decisionOf = (policy: GatewayPolicy, r: PolicyRequest): ReplayDecision => {
  const d = evaluate(policy, r, { inGrant }).decision;
  return { effect: d.effect, policyIds: [...new Set(d.policyIds)].sort(), reason: d.reason };
};

const same = (a: ReplayDecision, b: ReplayDecision) => a.effect === b.effect && a.policyIds.join('\n') === b.policyIds.join('\n');

/** Replays `events` (any order; only decided tools/call events count) against `candidate`. */
export function replayPolicy(config: WardenConfig, events: readonly AuditEvent[], current: GatewayPolicy, candidate: GatewayPolicy, tasks: ReadonlyMap<string, TaskRecord>): ReplayResult {
  const result: ReplayResult = { replayed: 0, skipped: 0, matchesRecord: 0, unfaithful: 0, changes: [], currentVersion: current.version, candidateVersion: candidate.version };
  for (const e of events) {
    // Under strict audit a call has an intent record before its outcome: the outcome carries the decision.
    if (e.outcome === 'intent') continue;
    const built = e.method === 'tools/call' ? requestsOf(config, e, e.task ? tasks.get(e.task) : undefined) : undefined;
    if (!built) {
      if (e.method === 'tools/call') result.skipped++;
      continue;
    }
    result.replayed++;
    const recorded: ReplayDecision = { effect: e.decision!.effect, policyIds: [...new Set(e.decision!.policyIds)].sort(), reason: '' };
    const tried = built.requests.map((request) => ({ request, now: decisionOf(current, request) }));
    const match = tried.find((t) => same(t.now, recorded));
    const { request, now } = match ?? tried[0]!;
    if (match) result.matchesRecord++;
    else result.unfaithful++;
    const next = decisionOf(candidate, request);
    if (!same(now, next)) result.changes.push({ event: e, faithful: match !== undefined, tool: built.tool, current: now, candidate: next });
  }
  return result;
}

/** The tasks the events ran under, read once each. */
export async function tasksOf(events: readonly AuditEvent[], get: (id: string) => Promise<TaskRecord | undefined>): Promise<Map<string, TaskRecord>> {
  const out = new Map<string, TaskRecord>();
  for (const id of new Set(events.map((e) => e.task).filter((t): t is string => !!t))) {
    const t = await get(id);
    if (t) out.set(id, t);
  }
  return out;
}
