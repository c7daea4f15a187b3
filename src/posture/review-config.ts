/**
 * Review checks read from the config alone, and the policy probes: decisions the loaded policy set gives
 * for requests that must be refused or held in a production-ready gateway (an unknown agent calling an
 * unknown destructive tool; a registered agent doing so without a task; a destructive prod tool with no
 * approval). The probe tool is classified by the gateway's own rules, so operator overrides count.
 */
import { createHash } from 'node:crypto';
import type { WardenConfig } from '../config/index.js';
import type { CallContext, GatewayPolicy, Target } from '../policy/index.js';
import type { Severity } from './model.js';
import type { ReviewDeps, ReviewFinding, ReviewInput, SubjectKind } from './review-model.js';
import { reviewCheck, type ReviewCheckId } from './review-rules.js';
import { isLocalHost } from './values.js';

export function reviewFinding(
  check: ReviewCheckId,
  kind: SubjectKind,
  name: string,
  detail: string,
  severity?: Severity,
): ReviewFinding {
  const c = reviewCheck(check);
  const id = createHash('sha256').update([check, kind, name].join('\0')).digest('hex').slice(0, 16);
  return {
    check,
    id: `${check}:${id}`,
    severity: severity ?? c.severity,
    subject: { kind, name },
    why: `${detail}.`,
    fix: c.fix,
    mapping: c.mapping,
  };
}

const hostOf = (listen: string) => listen.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');

export function configChecks(config: WardenConfig): ReviewFinding[] {
  const out: ReviewFinding[] = [];
  const g = (check: ReviewCheckId, detail: string, severity?: Severity) =>
    out.push(reviewFinding(check, 'gateway', 'gateway', detail, severity));
  const loopback = isLocalHost(hostOf(config.listen)) && hostOf(config.listen) !== '0.0.0.0';
  if (config.auth === undefined) g('auth-missing', 'no `auth` block: the gateway refuses to start');
  else if (config.auth.mode === 'none')
    g(
      'auth-none',
      `auth.mode is "none": every caller is the agent "anonymous", so no agent's identity is verifiable${loopback ? '' : ` (and listen is ${config.listen}, beyond this machine)`}`,
      loopback ? 'high' : 'critical',
    );
  const publicHttp = config.publicUrl?.startsWith('http:') ?? true;
  if (!loopback && config.tls === undefined && publicHttp)
    g(
      'no-tls',
      `the gateway listens on ${config.listen} without TLS and its public URL is not https://: tokens travel in clear`,
    );
  if (config.policy === undefined || config.policy.files.length === 0)
    g('no-policy', 'no `policy.files`: every request is denied (deny by default), so nothing can be used yet');
  const ts = config.tokenService;
  if (ts.enabled && (ts.defaultTtlSeconds > 900 || ts.maxTtlSeconds > 3600))
    g(
      'token-ttl',
      `gateway tokens live ${ts.defaultTtlSeconds} s by default and up to ${ts.maxTtlSeconds} s (a stolen token works that long)`,
    );
  if (ts.enabled && ts.keyRotationHours > 24 * 30)
    g('signing-key-stale', `tokenService.keyRotationHours is ${ts.keyRotationHours} (over 30 days)`, 'low');
  if (config.audit.arguments === 'none')
    g('audit-arguments-none', 'audit.arguments is "none": a record says a tool was called, not with what');
  const sinks = config.audit.sinks;
  if (!sinks.jsonl && !sinks.webhook && !sinks.otlp)
    g('audit-not-exported', "no audit sink: the only copy of the audit log is in the gateway's store");
  if (config.revocation.maxStalenessSeconds > 30)
    g(
      'revocation-slow',
      `revocation.maxStalenessSeconds is ${config.revocation.maxStalenessSeconds}: a replica may serve a revoked agent that long`,
    );
  for (const [agent, a] of Object.entries(config.agents)) {
    if (a.owner === undefined)
      out.push(reviewFinding('agent-no-owner', 'agent', agent, 'nobody is named accountable for it (`owner`)'));
  }
  for (const [name, s] of Object.entries(config.mcpServers)) {
    if (s.disabled || s.trustAnnotations !== true) continue;
    const prod = (s.environment ?? 'prod') === 'prod';
    out.push(
      reviewFinding(
        'annotations-trusted',
        'upstream',
        name,
        `trustAnnotations is true${prod ? ' in prod' : ''}: the server decides which of its tools count as read-only or non-destructive`,
        prod ? 'medium' : 'low',
      ),
    );
  }
  return out;
}

const PROBE_TOOL = 'warden_review_probe';
const UNKNOWN_AGENT = 'warden-review-unknown-agent';

function context(now: Date, task?: { server: string; tool: string }): CallContext {
  return {
    arguments: {},
    ...(task
      ? {
          task: {
            id: 'warden-review-task',
            purpose: 'readiness review probe',
            tools: [task.tool],
            servers: [task.server],
          },
        }
      : {}),
    approval: 'none',
    now,
    client: { transport: 'streamable-http', name: 'warden-review', protocolVersion: '2025-11-25' },
    callsPerMinute: 0,
  };
}

/** Decisions for an unknown tool of each upstream: the tool the server could add tomorrow. */
export function policyProbes(
  input: Pick<ReviewInput, 'config' | 'now'>,
  policy: GatewayPolicy,
  deps: ReviewDeps,
): ReviewFinding[] {
  const { config, now } = input;
  const method = config.auth?.mode === 'oauth' ? 'oauth-jwt' : 'none';
  const servers = Object.entries(config.mcpServers).filter(([, s]) => !s.disabled);
  const probe: Array<[string, WardenConfig['mcpServers'][string]]> =
    servers.length > 0 ? servers : [['review-probe', { command: 'true', args: [], env: {} }]];
  const targetOf = (name: string, s: WardenConfig['mcpServers'][string]): Target => ({
    kind: 'tool',
    server: deps.serverFacts(name, s),
    id: deps.exposedName(name, PROBE_TOOL),
    name: PROBE_TOOL,
    class: deps.classifyTool(s, { name: PROBE_TOOL }),
  });
  const out: ReviewFinding[] = [];
  const unknown = deps.subjectOf(config.agents, { agent: UNKNOWN_AGENT, method });
  const open = probe.flatMap(([name, s]) => {
    const d = policy.decide('call_tool', unknown, targetOf(name, s), context(now));
    return d.effect === 'deny' ? [] : [{ name, d }];
  });
  if (open.length > 0) {
    const held = open.every((o) => o.d.effect === 'needs-approval');
    const ids = [...new Set(open.flatMap((o) => o.d.policyIds))];
    out.push(
      reviewFinding(
        'permit-all',
        'gateway',
        'gateway',
        `an unregistered agent with no tenant, groups or task may call an unknown destructive tool on ${open.map((o) => o.name).join(', ')}${held ? ' (after an approval)' : ''}, by ${ids.join(', ') || 'a permit'}`,
        held ? 'high' : 'critical',
      ),
    );
  }
  for (const agent of Object.keys(config.agents)) {
    const subject = deps.subjectOf(config.agents, { agent, method });
    const standing = servers
      .filter(([name, s]) => policy.decide('call_tool', subject, targetOf(name, s), context(now)).effect === 'allow')
      .map(([n]) => n);
    if (standing.length > 0)
      out.push(
        reviewFinding(
          'standing-privilege',
          'agent',
          agent,
          `without any task, it may call any new destructive tool of ${standing.join(', ')}`,
        ),
      );
  }
  const callers = Object.keys(config.agents).length > 0 ? Object.keys(config.agents) : [UNKNOWN_AGENT];
  for (const [name, s] of servers) {
    if ((s.environment ?? 'prod') !== 'prod') continue;
    const target = targetOf(name, s);
    if (target.kind !== 'tool' || !target.class.destructive) continue;
    const unheld = callers.filter(
      (agent) =>
        policy.decide(
          'call_tool',
          deps.subjectOf(config.agents, { agent, method }),
          target,
          context(now, { server: name, tool: target.id }),
        ).effect === 'allow',
    );
    if (unheld.length > 0)
      out.push(
        reviewFinding(
          'destructive-without-approval',
          'upstream',
          name,
          `a destructive tool of this prod server runs with no approval for ${unheld.join(', ')} (within a task that grants it)`,
        ),
      );
  }
  const holds = servers.some(([name, s]) => {
    const t = targetOf(name, s);
    return callers.some(
      (agent) =>
        policy.decide(
          'call_tool',
          deps.subjectOf(config.agents, { agent, method }),
          t,
          context(now, { server: name, tool: t.kind === 'tool' ? t.id : '' }),
        ).effect === 'needs-approval',
    );
  });
  if (holds && config.approvals.approvers.length === 0)
    out.push(
      reviewFinding(
        'approvals-without-approvers',
        'gateway',
        'gateway',
        'policies hold calls for an approval, but approvals.approvers is empty: those calls are refused',
      ),
    );
  return out;
}
