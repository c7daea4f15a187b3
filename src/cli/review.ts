/**
 * `warden review [-c warden.yaml]`: the deployment's readiness for production, as Markdown or JSON (see
 * src/posture/review.ts). Reads the config, policy, store and audit; writes nothing, needs no master key.
 * Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad usage or configuration.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { verifyAudit } from '../audit/verify.js';
import { ConfigError, loadConfig, resolveStoreSpec, type WardenConfig } from '../config/index.js';
import { classifyTool, exposedName, serverFacts, subjectOf } from '../gateway/index.js';
import { ANONYMOUS, type AuthMethod } from '../identity/index.js';
import { loadPolicyFiles, loadGatewayPolicy, PolicyLoadError, type GatewayPolicy } from '../policy/index.js';
import {
  isSeverity,
  pinSourceOf,
  renderReviewJson,
  renderReviewMarkdown,
  review,
  SEVERITIES,
  severityAtLeast,
  type ReviewDeps,
} from '../posture/index.js';
import { openStore, parseStoreSpec, type Store } from '../store/index.js';
import type { CliIo } from './scan.js';

export interface ReviewCliOptions {
  config: string;
  format?: string;
  output?: string;
  failOn?: string;
  unusedDays?: string;
  maxSecretAgeDays?: string;
}

export function depsFor(config: WardenConfig): ReviewDeps {
  const enabled = Object.values(config.mcpServers).filter((s) => !s.disabled).length;
  const prefixed = config.naming.prefix === 'always' || (config.naming.prefix === 'auto' && enabled > 1);
  return {
    serverFacts,
    classifyTool,
    subjectOf: (agents, p) => subjectOf(agents, { ...ANONYMOUS, agent: p.agent, method: p.method as AuthMethod }),
    exposedName: (server, tool) => exposedName(server, tool, prefixed, config.naming.separator),
    verifyAudit: async (store) => {
      const r = await verifyAudit(store);
      return {
        ok: r.ok,
        events: r.events,
        ...(r.firstBroken ? { problem: `seq ${r.firstBroken.seq}: ${r.firstBroken.reason}` } : {}),
      };
    },
  };
}

export function policyOf(config: WardenConfig, baseDir: string): GatewayPolicy | { error: string } {
  const p = config.policy;
  try {
    if (p === undefined || p.files.length === 0)
      return loadGatewayPolicy({ sources: [], arguments: p?.arguments, pathArguments: p?.pathArguments });
    return loadPolicyFiles({ files: p.files, baseDir, arguments: p.arguments, pathArguments: p.pathArguments });
  } catch (err) {
    if (err instanceof PolicyLoadError) return { error: err.message.split('\n')[0]! };
    throw err;
  }
}

/**
 * A review of this config and store (none: the gateway has not run). The console's Posture page takes the
 * default thresholds; `warden review` passes its options.
 */
export function reviewOf(
  config: WardenConfig,
  baseDir: string,
  configFile: string,
  store: Store | undefined,
  thresholds: { unusedDays: number; maxSecretAgeDays: number } = { unusedDays: 30, maxSecretAgeDays: 90 },
  env: NodeJS.ProcessEnv = process.env,
) {
  return review({
    configFile,
    config,
    baseDir,
    store,
    policy: policyOf(config, baseDir),
    deps: depsFor(config),
    now: new Date(),
    ...thresholds,
    home: env.HOME ?? env.USERPROFILE ?? homedir(),
    pins: pinSourceOf(store),
  });
}

const days = (v: string | undefined, dflt: number, what: string): number => {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 3650)
    throw new ConfigError(`${what} must be a whole number of days from 1 to 3650`);
  return n;
};

export async function reviewCommand(opts: ReviewCliOptions, io: CliIo): Promise<number> {
  const format = opts.format ?? 'markdown';
  if ((format !== 'markdown' && format !== 'json') || (opts.failOn !== undefined && !isSeverity(opts.failOn))) {
    io.stderr.write(`warden review: --format must be markdown or json; --fail-on one of ${SEVERITIES.join(', ')}\n`);
    return 2;
  }
  let store: Store | undefined;
  try {
    const { config, baseDir, file } = loadConfig(opts.config);
    const spec = resolveStoreSpec(config.store, baseDir);
    const parsed = parseStoreSpec(spec);
    // A review never creates a store: a SQLite file that does not exist means the gateway has not run.
    if (parsed.kind === 'postgres' || (parsed.path !== ':memory:' && existsSync(parsed.path)))
      store = await openStore(spec);
    const thresholds = { unusedDays: days(opts.unusedDays, 30, '--unused-days'), maxSecretAgeDays: days(opts.maxSecretAgeDays, 90, '--max-secret-age-days') };
    const report = await reviewOf(config, baseDir, file, store, thresholds, io.env);
    const text = format === 'json' ? renderReviewJson(report) : renderReviewMarkdown(report);
    if (opts.output) writeFileSync(opts.output, text);
    else io.stdout.write(text);
    return opts.failOn !== undefined && report.findings.some((f) => severityAtLeast(f.severity, opts.failOn as never))
      ? 1
      : 0;
  } catch (err) {
    io.stderr.write(`warden review: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof ConfigError ? 2 : 1;
  } finally {
    await store?.close();
  }
}
