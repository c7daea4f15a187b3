/**
 * A config reload (SIGHUP on `warden serve`): the file is read and validated again, and what can change while
 * requests run is replaced: the policy set (`policy`), the agent registrations (`agents`), the upstreams
 * (`mcpServers`: added, removed, changed) and the console's roles (`console.roles`). All or nothing: the new policy must load and every added or changed
 * upstream must pass the start-time checks (secrets, leases) before anything is put in force; otherwise the
 * running config stays whole. Everything else (listen address, TLS, store, auth, vault, audit, ...) needs a
 * restart: a changed key is named in the log and in the audit event (`config/reload`), and left as it runs.
 */
import { ConfigError, loadConfig, resolveServerPaths, type AgentConfig, type ServerConfig, type WardenConfig } from '../config/index.js';
import type { Gateway } from '../gateway/index.js';
import { formatProblem, PolicyLoadError } from '../policy/index.js';
import { WardenError } from '../protocol/errors.js';
import type { Logger } from '../telemetry/log.js';
import type { RunningPolicy } from './start-policy.js';

/** The keys a reload applies; any other key that changed is reported as needing a restart. */
export const RELOADABLE = ['policy', 'agents', 'mcpServers'] as const;

export interface ReloadDeps {
  /** The running config: its `agents` and `mcpServers` records are replaced in place (every module holding them sees the change). */
  config: WardenConfig;
  file: string;
  gateway: Gateway;
  policy: RunningPolicy;
  /** The start-time checks of upstreams (secret references, user secrets, leases); throws ConfigError naming each problem. */
  checkServers(servers: Readonly<Record<string, ServerConfig>>, source: string): Promise<string[]>;
  /** Told the new enabled servers once they are in force (the task service's view of them). */
  onServers(config: WardenConfig): void;
  log: Logger;
}

export type ReloadReport =
  | { ok: true; upstreams: { added: string[]; removed: string[]; changed: string[] }; agents: { added: string[]; removed: string[]; changed: string[] }; policyVersion: string; notReloaded: string[] }
  | { ok: false; error: string };

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const enabled = (c: WardenConfig): Record<string, ServerConfig> => Object.fromEntries(Object.entries(c.mcpServers).filter(([, s]) => !s.disabled));

function diff<T>(before: Readonly<Record<string, T>>, after: Readonly<Record<string, T>>): { added: string[]; removed: string[]; changed: string[] } {
  return {
    added: Object.keys(after).filter((k) => !(k in before)),
    removed: Object.keys(before).filter((k) => !(k in after)),
    changed: Object.keys(after).filter((k) => k in before && !same(before[k], after[k])),
  };
}

/** Makes `target` hold exactly `next`'s entries, keeping the object (others hold a reference to it). */
function replaceInPlace<T>(target: Record<string, T>, next: Readonly<Record<string, T>>): void {
  for (const key of Object.keys(target)) if (!(key in next)) delete target[key];
  Object.assign(target, next);
}

/** The top-level keys that differ and are not reloaded: they need a restart. */
export function needsRestart(before: WardenConfig, after: WardenConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [...keys].filter((k) => !(RELOADABLE as readonly string[]).includes(k) && !same(before[k as keyof WardenConfig], after[k as keyof WardenConfig]));
  // The console's roles are reloaded (removing a person takes effect at once); its other keys are not.
  const consoleOnlyRoles = same({ ...before.console, roles: null }, { ...after.console, roles: null });
  return changed.filter((k) => k !== 'console' || !consoleOnlyRoles).sort();
}

const list = (label: string, d: { added: string[]; removed: string[]; changed: string[] }): string[] =>
  [d.added.length ? `${label} added: ${d.added.join(', ')}` : '', d.removed.length ? `${label} removed: ${d.removed.join(', ')}` : '', d.changed.length ? `${label} changed: ${d.changed.join(', ')}` : ''].filter(Boolean);

/** Reads the config file again and applies what can be reloaded; records the outcome as `config/reload`. Never throws. */
export async function reloadConfig(deps: ReloadDeps): Promise<ReloadReport> {
  const { config, log, gateway } = deps;
  const meta = { protocolVersion: null, startedAt: Date.now(), principal: null };
  let report: ReloadReport;
  try {
    // Stdio upstreams run in the config's directory, as at start.
    const loaded = loadConfig(deps.file);
    const next = resolveServerPaths(loaded.config, loaded.baseDir);
    const upstreams = diff(enabled(config), enabled(next));
    const agents = diff<AgentConfig>(config.agents, next.agents);
    // Everything is checked before anything changes: a policy that does not load, or an upstream whose
    // secrets or leases cannot be had, refuses the whole reload.
    const policy = deps.policy.prepare(next.policy);
    const touched = Object.fromEntries([...upstreams.added, ...upstreams.changed].map((n) => [n, enabled(next)[n]!]));
    const warnings = Object.keys(touched).length > 0 ? await deps.checkServers(touched, deps.file) : [];
    for (const w of warnings) log.warn(w);
    const notReloaded = needsRestart(config, next);
    policy.commit();
    config.policy = next.policy;
    replaceInPlace(config.agents, next.agents);
    config.console.roles = next.console.roles;
    replaceInPlace(config.mcpServers, next.mcpServers);
    deps.onServers(config);
    await gateway.reconfigureServers(new Map(Object.entries(enabled(config))));
    report = { ok: true, upstreams, agents, policyVersion: policy.version, notReloaded };
  } catch (err) {
    const message = err instanceof PolicyLoadError ? `the policy set does not load:\n${err.problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}` : (err as Error).message;
    if (!(err instanceof ConfigError || err instanceof PolicyLoadError)) log.error({ err }, 'config reload failed');
    report = { ok: false, error: message };
  }
  if (report.ok) {
    const changes = [...list('upstreams', report.upstreams), ...list('agents', report.agents)];
    log.info({ upstreams: report.upstreams, agents: report.agents, policyVersion: report.policyVersion }, `config reloaded${changes.length ? `: ${changes.join('; ')}` : ' (no upstream or agent changed)'}`);
    if (report.notReloaded.length > 0) log.warn({ notReloaded: report.notReloaded }, `config reload: ${report.notReloaded.join(', ')} changed but cannot be reloaded; restart the gateway to apply`);
  } else {
    log.error(`config reload refused, the running config stays in force: ${report.error}`);
  }
  const decision = report.ok
    ? { effect: 'allow' as const, policyIds: [], policyVersion: report.policyVersion, reason: describe(report) }
    : { effect: 'deny' as const, policyIds: [], reason: `config reload refused, the running config stays in force: ${report.error}` };
  const failure = report.ok ? undefined : new WardenError('invalid_request', 'config reload refused');
  await gateway.recordOutcome('config/reload', null, meta, failure, null, decision).catch((err: unknown) => log.error({ err }, 'could not record the config reload'));
  return report;
}

function describe(r: Extract<ReloadReport, { ok: true }>): string {
  const parts = [...list('upstreams', r.upstreams), ...list('agents', r.agents), `policy version ${r.policyVersion}`];
  if (r.notReloaded.length > 0) parts.push(`not reloaded (restart to apply): ${r.notReloaded.join(', ')}`);
  return `config reloaded: ${parts.join('; ')}`;
}
