/**
 * Policy replay: the impact of a candidate policy set on the calls the gateway has audited. Each audited
 * `tools/call` that reached a policy decision is rebuilt as a decision request (its agent, user, tenant,
 * chain and auth method; its server and tool as the config classifies them; its recorded arguments when
 * `audit.arguments` kept them; its task's grant; its time) and decided twice: by the policy in force and by
 * the candidate. Every call whose decision would change is listed.
 *
 * Both sides are decided on the same rebuilt request, so a difference is the policies' alone. What the audit
 * does not keep (token scopes, an agent's groups from its token, arguments unless recorded, annotations an
 * upstream sent) is rebuilt the same way for both: `matchesRecord` counts how many re-decisions under the
 * policy in force match what was recorded, as a measure of how faithful the replay is.
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

/** The decision request an audited call was, as far as the audit and the config tell. */
function requestOf(config: WardenConfig, e: AuditEvent, task: TaskRecord | undefined): { request: PolicyRequest; tool: string } | undefined {
  if (e.method !== 'tools/call' || !e.agent || !e.upstream || !e.target || !e.decision) return undefined;
  const server = Object.hasOwn(config.mcpServers, e.upstream) ? config.mcpServers[e.upstream] : undefined;
  if (!server) return undefined;
  const enabled = Object.values(config.mcpServers).filter((s) => !s.disabled).length;
  const prefixed = config.naming.prefix === 'always' || (config.naming.prefix === 'auto' && enabled > 1);
  const tool = exposedName(e.upstream, e.target, prefixed, config.naming.separator);
  const method = (AUTH_METHODS.has(e.authMethod ?? '') ? e.authMethod : 'none') as AuthMethod;
  const subject = subjectOf(config.agents, { ...ANONYMOUS, agent: e.agent, user: e.user, tenant: e.tenant, chain: e.chain, method, task: e.task ?? null });
  const request: PolicyRequest = {
    action: 'call_tool',
    subject,
    target: { kind: 'tool', server: serverFacts(e.upstream, server), id: tool, name: e.target, class: classifyTool(server, { name: e.target }) },
    context: {
      ...(task ? { task: { id: task.id, purpose: task.purpose, tools: task.tools, servers: task.servers } } : {}),
      approval: 'none',
      now: new Date(e.time),
      client: { transport: 'http', name: 'replay', protocolVersion: e.protocolVersion ?? '' },
      callsPerMinute: 0,
    },
    arguments: parseArguments(e.arguments) ?? {},
    listing: false,
  };
  return { request, tool };
}

const decisionOf = (policy: GatewayPolicy, r: PolicyRequest): ReplayDecision => {
  const d = evaluate(policy, r, { inGrant }).decision;
  return { effect: d.effect, policyIds: [...new Set(d.policyIds)].sort(), reason: d.reason };
};

const same = (a: ReplayDecision, b: ReplayDecision) => a.effect === b.effect && a.policyIds.join('\n') === b.policyIds.join('\n');

/** Replays `events` (any order; only decided tools/call events count) against `candidate`. */
export function replayPolicy(config: WardenConfig, events: readonly AuditEvent[], current: GatewayPolicy, candidate: GatewayPolicy, tasks: ReadonlyMap<string, TaskRecord>): ReplayResult {
  const result: ReplayResult = { replayed: 0, skipped: 0, matchesRecord: 0, changes: [], currentVersion: current.version, candidateVersion: candidate.version };
  for (const e of events) {
    const built = e.method === 'tools/call' ? requestOf(config, e, e.task ? tasks.get(e.task) : undefined) : undefined;
    if (!built) {
      if (e.method === 'tools/call') result.skipped++;
      continue;
    }
    result.replayed++;
    const now = decisionOf(current, built.request);
    const next = decisionOf(candidate, built.request);
    if (now.effect === e.decision!.effect) result.matchesRecord++;
    if (!same(now, next)) result.changes.push({ event: e, tool: built.tool, current: now, candidate: next });
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
