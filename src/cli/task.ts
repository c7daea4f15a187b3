/**
 * `warden task start|list|show|end`: tasks from the operator's side. `start` asks the policy for a grant
 * (action `start_task`), stores the task and prints a gateway token bound to it on stdout (the summary
 * goes to stderr), so `TOKEN=$(warden task start ...)` works. The token never outlives the task.
 */
import type { AuditDecision } from '../audit/event.js';
import { AuditRecorder } from '../audit/index.js';
import type { LoadedConfig } from '../config/index.js';
import { GatewayTokens } from '../identity/gateway-tokens.js';
import { AgentIssuers } from '../identity/agent-issuers.js';
import { loadGatewayPolicy, loadPolicyFiles, type GatewayPolicy } from '../policy/index.js';
import type { Store } from '../store/index.js';
import type { TaskRecord } from '../store/types.js';
import { createLogger } from '../telemetry/log.js';
import { withConfiguredStore } from './configured-store.js';
import { leaseManagerFor, signingKeysFor, taskServiceFor, taskStartEvent } from './services.js';

export interface TaskStartOptions {
  config: string;
  agent: string;
  user?: string;
  purpose: string;
  server?: string[];
  tool?: string[];
  ttl: string;
  /** Space- or comma-separated scopes for the token; default: the config's auth.requiredScopes. */
  scope?: string;
  json?: boolean;
}

/** The token's scopes: those asked for, else exactly what the gateway requires of every request. */
export function taskScopes(asked: string | undefined, requiredScopes: readonly string[]): string[] {
  if (asked === undefined) return [...requiredScopes];
  const scopes = [...new Set(asked.split(/[\s,]+/).filter(Boolean))];
  if (scopes.some((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) throw new Error('--scope takes scope tokens (RFC 6749: printable ASCII, no quote or backslash), separated by spaces or commas');
  return scopes;
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600 };

export function parseTtl(ttl: string): number {
  const m = /^(\d{1,7})([smh]?)$/.exec(ttl.trim());
  if (!m) throw new Error('--ttl must be a number of seconds or a duration such as 90s, 15m, 2h');
  return Number(m[1]) * (UNIT_S[m[2] || 's'] as number);
}

function policyOf(loaded: LoadedConfig): GatewayPolicy {
  const p = loaded.config.policy;
  if (p === undefined || p.files.length === 0) return loadGatewayPolicy({ sources: [] });
  return loadPolicyFiles({ files: p.files, baseDir: loaded.baseDir, arguments: p.arguments, pathArguments: p.pathArguments });
}


/** Task start and end are audit events with the task id, so `warden audit trace --task` shows the whole story. */
async function recordTaskEvent(store: Store, t: TaskRecord, method: string, decision: AuditDecision | null): Promise<void> {
  const audit = new AuditRecorder(store.audit, createLogger('error'), { instance: 'warden-cli' });
  await audit.record({
    startedAt: Date.now(),
    agent: t.agent,
    user: t.user,
    tenant: t.tenant,
    chain: [],
    authMethod: 'cli',
    task: t.id,
    sessionId: null,
    protocolVersion: null,
    method,
    upstream: null,
    target: t.id,
    argsDigest: null,
    decision,
    outcome: 'ok',
    errorCode: null,
  });
}

function describe(t: TaskRecord): string {
  const grant = [...t.servers.map((s) => `server ${s}`), ...t.tools].join(', ') || '(nothing)';
  return `${t.id}  ${t.state.padEnd(7)}  agent ${t.agent}${t.user ? ` for ${t.user}` : ''}${t.tenant ? ` (tenant ${t.tenant})` : ''}  expires ${t.expiresAt}\n  purpose: ${t.purpose}\n  grant:   ${grant}`;
}

export function taskStart(opts: TaskStartOptions): Promise<void> {
  return withConfiguredStore(
    opts.config,
    async (store, loaded) => {
      const { config } = loaded;
      const auth = config.auth;
      if (!auth || auth.mode === 'none' || !config.tokenService.enabled) throw new Error('a task token is a gateway token: configure auth (issuers or spiffe) with the token service enabled');
      const reg = config.agents[opts.agent];
      const scopes = taskScopes(opts.scope, auth.requiredScopes);
      const subject = { agent: opts.agent, user: opts.user ?? null, tenant: reg?.tenant ?? null, chain: [], owner: reg?.owner, groups: reg?.groups ?? [], authMethod: 'cli', scopes };
      const policy = policyOf(loaded);
      const service = taskServiceFor(config, store.tasks, () => policy);
      const { task, grant } = await service.start(subject, { purpose: opts.purpose, servers: opts.server ?? [], tools: opts.tool ?? [], ttlSeconds: parseTtl(opts.ttl) });
      const publicUrl = config.publicUrl ?? `http://${config.listen}/mcp`;
      const ts = config.tokenService;
      const { keys, ring } = await signingKeysFor(config, store, loaded.baseDir, createLogger('error'), loaded.file);
      let minted;
      try {
        const tokens = new GatewayTokens(ts.issuer ?? new URL(publicUrl).origin, publicUrl, keys, store.tokens, auth.clockSkewSeconds, { homes: new AgentIssuers({ auth, agents: config.agents }) });
        minted = await tokens.mint({ agent: task.agent, user: task.user, tenant: task.tenant, chain: [], scopes, task: task.id, parentJti: null, expiresAt: Math.floor(Date.parse(task.expiresAt) / 1000) });
      } finally {
        ring.close();
      }
      const { token, record } = minted;
      await new AuditRecorder(store.audit, createLogger('error'), { instance: 'warden-cli' }).record(taskStartEvent(task, grant, [], 'cli', policy.version));
      if (opts.json) {
        process.stdout.write(JSON.stringify({ task, refused: grant.refused, token, tokenId: record.jti }) + '\n');
        return;
      }
      process.stderr.write(`task started\n${describe(task)}\n  scopes:  ${scopes.join(' ') || '(none)'}\n`);
      for (const r of grant.refused) process.stderr.write(`  not granted: ${r.item}: ${r.reason}\n`);
      process.stdout.write(token + '\n');
    },
    { createDir: true },
  );
}

export function taskList(opts: { config: string; state?: TaskRecord['state']; agent?: string; json?: boolean; limit: number }): Promise<void> {
  return withConfiguredStore(opts.config, async (store, ctx) => {
    const tasks = await store.tasks.list({ ...(opts.state ? { state: opts.state } : {}), ...(opts.agent ? { agent: opts.agent } : {}), limit: opts.limit });
    for (const t of tasks) process.stdout.write((opts.json ? JSON.stringify(t) : describe(t)) + '\n');
    if (!opts.json && tasks.length === 0) process.stderr.write(`no tasks${opts.state || opts.agent ? ' that match' : ''} in ${ctx.location}\n`);
  });
}

export function taskShow(id: string, opts: { config: string; json?: boolean }): Promise<void> {
  return withConfiguredStore(opts.config, async (store) => {
    const t = await store.tasks.get(id);
    if (t === undefined) throw new Error(`no task ${id}`);
    process.stdout.write((opts.json ? JSON.stringify(t) : describe(t)) + '\n');
  });
}

export function taskEnd(id: string, opts: { config: string; revoke?: boolean; reason?: string; json?: boolean }): Promise<void> {
  return withConfiguredStore(opts.config, async (store, loaded) => {
    // Ending a task here also revokes its leases at once (the gateways' sweepers would, within seconds).
    const leases = leaseManagerFor(loaded.config, store, createLogger('error'), new AuditRecorder(store.audit, createLogger('error'), { instance: 'warden-cli' }));
    const service = taskServiceFor(loaded.config, store.tasks, () => policyOf(loaded), leases ? async (t) => void (await leases.revokeTask(t.id)) : undefined);
    const t = await service.end(id, 'cli', opts.revoke ? 'revoked' : 'ended');
    // The task record has no field for why; the audit event carries it (`warden audit trace --task` shows it).
    const why = `task ${t.id} ${t.state} by cli${opts.reason ? `: ${opts.reason}` : ''}`;
    await recordTaskEvent(store, t, opts.revoke ? 'task/revoke' : 'task/end', { effect: 'deny', policyIds: [], reason: why });
    if (opts.json) {
      process.stdout.write(JSON.stringify({ task: t, reason: opts.reason ?? null }) + '\n');
      return;
    }
    process.stdout.write(`task ${t.id} ${t.state}${opts.reason ? ` (${opts.reason})` : ''}; its tokens are refused from the next request on\n`);
  });
}
