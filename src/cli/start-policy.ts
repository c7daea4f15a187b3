/**
 * The policy set a gateway runs with: loaded from `policy.files` at start (a broken set refuses to start),
 * reloaded when a file changes (recorded as `policy/reload`), and replaced as part of a config reload
 * (SIGHUP, which may name other files: see reload.ts). Every reload is recorded in the audit log with its version.
 */
import type { PolicyConfig, WardenConfig } from '../config/index.js';
import type { Gateway } from '../gateway/index.js';
import { formatProblem, LivePolicy, loadGatewayPolicy, type GatewayPolicy, type ReloadResult } from '../policy/index.js';
import { WardenError } from '../protocol/errors.js';
import type { Logger } from '../telemetry/log.js';

export interface RunningPolicy {
  current(): GatewayPolicy;
  /** Reads the files again now. */
  reload(): ReloadResult | undefined;
  /**
   * Loads the set a reloaded config's `policy` block names, without putting it in force: throws
   * PolicyLoadError when it does not load. The returned function puts it in force.
   */
  prepare(cfg: PolicyConfig | undefined): { version: string; commit: () => void };
  /** Starts recording reloads through the gateway's audit log. */
  attach(gateway: Gateway): void;
  close(): void;
}

/** The set of a `policy` block: files watched when asked; no files, an empty set that denies everything. */
function open(cfg: PolicyConfig | undefined, baseDir: string): { live?: LivePolicy; current: () => GatewayPolicy } {
  if (cfg === undefined || cfg.files.length === 0) {
    const empty = loadGatewayPolicy({ sources: [], arguments: cfg?.arguments, pathArguments: cfg?.pathArguments });
    return { current: () => empty };
  }
  const live = new LivePolicy({ files: cfg.files, baseDir, arguments: cfg.arguments, pathArguments: cfg.pathArguments });
  return { live, current: () => live.current };
}

export function startPolicy(config: WardenConfig, baseDir: string, log: Logger): RunningPolicy {
  let cfg = config.policy;
  let set = open(cfg, baseDir);
  const announce = (): void => {
    if (set.live === undefined) {
      log.warn('no policy files are configured (policy.files): every request is denied. `warden init` writes a starter policy pack.');
      return;
    }
    log.info({ policyVersion: set.current().version, policies: set.current().policies.length }, 'policy loaded');
    for (const w of set.current().warnings) log.warn({ policyWarning: formatProblem(w) }, 'policy warning');
  };
  announce();
  let gateway: Gateway | undefined;
  const report = (r: ReloadResult): void => {
    const meta = { protocolVersion: null, startedAt: Date.now(), principal: null };
    if (r.ok && !r.changed) return;
    if (r.ok) log.info({ policyVersion: r.version }, 'policy reloaded');
    else log.error({ problems: r.error.problems.map(formatProblem) }, 'policy reload refused: the last good policy set stays in force');
    const failure = r.ok ? undefined : new WardenError('invalid_request', 'policy reload refused');
    const version = set.current().version;
    const decision = r.ok
      ? { effect: 'allow' as const, policyIds: [], reason: 'policy set replaced', policyVersion: version }
      : { effect: 'deny' as const, policyIds: [], reason: 'invalid policy set refused; the version in force stays', policyVersion: version };
    void gateway?.recordOutcome('policy/reload', null, meta, failure, null, decision).catch((err: unknown) => log.error({ err }, 'could not record the policy reload'));
  };
  const watch = (): void => {
    if (gateway !== undefined && cfg?.watch) set.live?.watch(report);
  };
  return {
    current: () => set.current(),
    reload: () => {
      if (set.live === undefined) return undefined;
      const r = set.live.reload();
      report(r);
      return r;
    },
    prepare: (next) => {
      // Read afresh even when the block is the same (the files may have changed), and put in force on commit only.
      const opened = open(next, baseDir);
      return {
        version: opened.current().version,
        commit: () => {
          set.live?.close();
          set = opened;
          cfg = next;
          watch();
          announce();
        },
      };
    },
    attach: (g) => {
      gateway = g;
      watch();
    },
    close: () => set.live?.close(),
  };
}
