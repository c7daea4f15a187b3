/**
 * The policy set a gateway runs with: loaded from `policy.files` at start (a broken set refuses to start),
 * reloaded when a file changes or on SIGHUP, every reload recorded in the audit log with its version.
 */
import type { WardenConfig } from '../config/index.js';
import type { Gateway } from '../gateway/index.js';
import { formatProblem, LivePolicy, loadGatewayPolicy, type GatewayPolicy, type ReloadResult } from '../policy/index.js';
import { WardenError } from '../protocol/errors.js';
import type { Logger } from '../telemetry/log.js';

export interface RunningPolicy {
  current(): GatewayPolicy;
  /** Reads the files again now (SIGHUP). */
  reload(): ReloadResult | undefined;
  /** Starts recording reloads through the gateway's audit log. */
  attach(gateway: Gateway): void;
  close(): void;
}

export function startPolicy(config: WardenConfig, baseDir: string, log: Logger): RunningPolicy {
  const cfg = config.policy;
  if (cfg === undefined || cfg.files.length === 0) {
    log.warn('no policy files are configured (policy.files): every request is denied. `warden init` writes a starter policy pack.');
    const empty = loadGatewayPolicy({ sources: [], arguments: cfg?.arguments, pathArguments: cfg?.pathArguments });
    return { current: () => empty, reload: () => undefined, attach: () => undefined, close: () => undefined };
  }
  const live = new LivePolicy({ files: cfg.files, baseDir, arguments: cfg.arguments, pathArguments: cfg.pathArguments });
  log.info({ policyVersion: live.current.version, policies: live.current.policies.length }, 'policy loaded');
  for (const w of live.current.warnings) log.warn({ policyWarning: formatProblem(w) }, 'policy warning');
  let gateway: Gateway | undefined;
  const report = (r: ReloadResult): void => {
    const meta = { protocolVersion: null, startedAt: Date.now(), principal: null };
    if (r.ok && !r.changed) return;
    if (r.ok) log.info({ policyVersion: r.version }, 'policy reloaded');
    else log.error({ problems: r.error.problems.map(formatProblem) }, 'policy reload refused: the last good policy set stays in force');
    const failure = r.ok ? undefined : new WardenError('invalid_request', 'policy reload refused');
    const decision = r.ok
      ? { effect: 'allow' as const, policyIds: [], reason: 'policy set replaced', policyVersion: live.current.version }
      : { effect: 'deny' as const, policyIds: [], reason: 'invalid policy set refused; the version in force stays', policyVersion: live.current.version };
    void gateway?.recordOutcome('policy/reload', null, meta, failure, null, decision).catch((err: unknown) => log.error({ err }, 'could not record the policy reload'));
  };
  return {
    current: () => live.current,
    reload: () => {
      const r = live.reload();
      report(r);
      return r;
    },
    attach: (g) => {
      gateway = g;
      if (cfg.watch) live.watch(report);
    },
    close: () => live.close(),
  };
}
