/**
 * The checks of `warden doctor`, each turning one part of a config into findings: what is fine, and for
 * each problem what is wrong and the change that fixes it. They run in order, and a check whose input is
 * broken (no config, no store) stops the ones that need it.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, resolveStoreSpec, type LoadedConfig } from '../config/index.js';
import type { PrincipalView, Survey, UpstreamSurvey } from '../gateway/index.js';
import { loadJwksFile } from '../identity/index.js';
import { loadPolicyFiles } from '../policy/index.js';
import { openStore } from '../store/index.js';
import { silentLogger } from '../telemetry/log.js';
import { checkAuthMode } from './start-gateway.js';

export interface Finding {
  check: string;
  ok: boolean;
  detail: string;
  /** For a problem: what to change. */
  fix?: string;
}

const ok = (check: string, detail: string): Finding => ({ check, ok: true, detail });
const problem = (check: string, detail: string, fix: string): Finding => ({ check, ok: false, detail, fix });
/** A ConfigError's lines after the first ("invalid config FILE:"), which name the keys. */
const configLines = (err: unknown) => (err instanceof Error ? err.message.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.slice(4)).join('; ') || err.message : String(err));

export function checkAuth({ config, file }: LoadedConfig): Finding[] {
  try {
    checkAuthMode(config, silentLogger(), file);
  } catch (err) {
    return [problem('auth', configLines(err), 'configure auth as the message says (see docs/identity.md)')];
  }
  const auth = config.auth!;
  if (auth.mode === 'none') return [ok('auth', `auth.mode none: every caller is the agent "anonymous" (development only, ${config.listen})`)];
  const out: Finding[] = [];
  const keyFile = (check: string, key: string, file: string, use?: string) => {
    try {
      const jwks = loadJwksFile(file, '.');
      const keys = jwks.keys.filter((k) => use === undefined || k.use === use);
      out.push(keys.length > 0 ? ok(check, `${key}: ${keys.length} key(s)`) : problem(check, `${key} (${file}) has no keys${use ? ` with use "${use}"` : ''}`, `put the issuer's public keys in ${file}`));
    } catch (err) {
      out.push(problem(check, `${key} (${file}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, `write the JWKS to ${file}, or fix the path (relative to the config file)`));
    }
  };
  for (const [i, issuer] of auth.issuers.entries()) {
    if (issuer.jwksFile) keyFile('auth', `auth.issuers[${i}].jwksFile`, issuer.jwksFile);
    else out.push(ok('auth', `issuer ${issuer.issuer}: keys from ${issuer.jwksUri} (fetched at first use; not checked here)`));
  }
  if (auth.spiffe) keyFile('auth', 'auth.spiffe.bundleFile', auth.spiffe.bundleFile, 'jwt-svid');
  return out;
}

/** The store the gateway would open, without creating it: the spec the survey should use (":memory:" until it exists). */
export async function checkStore({ config, baseDir }: LoadedConfig): Promise<{ findings: Finding[]; spec?: string }> {
  const spec = resolveStoreSpec(config.store, baseDir);
  const isFile = !/^postgres(ql)?:\/\//.test(spec) && spec !== ':memory:';
  if (isFile && !existsSync(spec)) {
    const dir = dirname(spec);
    return { findings: [ok('store', `${spec} does not exist yet: the first start creates it${existsSync(dir) ? '' : ` (and ${dir})`}`)], spec: ':memory:' };
  }
  try {
    const store = await openStore(spec, { createDir: false });
    await store.close();
    return { findings: [ok('store', isFile ? spec : spec.replace(/\/\/[^@/]*@/, '//***@'))], spec };
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    return { findings: [problem('store', `cannot open the store: ${why}`, isFile ? `check that ${spec} is a warden SQLite file this user can write` : 'check that PostgreSQL is reachable with this URL and user')] };
  }
}

export function checkPolicy({ config, baseDir }: LoadedConfig): Finding[] {
  const files = config.policy?.files ?? [];
  if (files.length === 0) return [problem('policy', 'no policy files: every request is denied (deny by default)', 'add `policy: { files: [policies] }` with the starter pack (`warden init` writes it)')];
  try {
    const p = loadPolicyFiles({ files, baseDir, arguments: config.policy?.arguments, pathArguments: config.policy?.pathArguments });
    return [ok('policy', `policies from ${files.join(', ')} (version ${p.version})`)];
  } catch (err) {
    return [problem('policy', (err as Error).message.split('\n').slice(0, 3).join(' '), 'fix the policy named above; `warden policy validate` shows every error with its line')];
  }
}

export function checkApprovals({ config }: LoadedConfig): Finding[] {
  const a = config.approvals;
  if (a.approvers.length === 0) return [];
  if (a.holdSeconds >= 60) {
    return [problem('approvals', `holdSeconds is ${a.holdSeconds}: clients without progress (the MCP SDK's default, 60 s) time out before they see approval_pending`, 'set approvals.holdSeconds below 60 (the default is 45)')];
  }
  return [ok('approvals', `approvers ${a.approvers.join(', ')}; calls are held ${a.holdSeconds} s`)];
}

/** The fix for an upstream that did not start or list, from how it failed. */
function upstreamFix(u: UpstreamSurvey, loaded: LoadedConfig): string {
  const reason = u.reason ?? '';
  const server = loaded.config.mcpServers[u.name];
  if (/ENOENT/.test(reason) && server && 'command' in server) return `the command "${server.command}" was not found: install it, or give its full path in mcpServers.${u.name}.command`;
  if (/EACCES/.test(reason)) return `the command cannot be run by this user: check mcpServers.${u.name}.command`;
  if (u.stderr?.length) return `read the server's own error above; relative paths in its args run from ${loaded.baseDir} (or mcpServers.${u.name}.cwd)`;
  if (/ECONNREFUSED|fetch failed|ENOTFOUND/i.test(reason)) return `nothing answers at mcpServers.${u.name}.url: start that server, or fix the URL`;
  if (/401|403|unauthori[sz]ed|forbidden/i.test(reason)) return `the server refused the gateway's credentials: check mcpServers.${u.name}.headers and the secrets they use`;
  return `check mcpServers.${u.name}; \`warden serve\` with log level debug shows the whole exchange`;
}

export function surveyFindings(survey: Survey, loaded: LoadedConfig): Finding[] {
  const out: Finding[] = [];
  for (const u of survey.upstreams) {
    if (u.withinTask) out.push(ok(`upstream ${u.name}`, 'connects only within a task (it uses a lease); not started here'));
    else if (u.ok) out.push(ok(`upstream ${u.name}`, `started and listed: ${u.tools.length} tools`));
    else out.push(problem(`upstream ${u.name}`, `${u.reason}${u.stderr?.length ? `\n${u.stderr.map((l) => `  | ${l}`).join('\n')}` : ''}`, upstreamFix(u, loaded)));
  }
  if (survey.views.length === 0) out.push(ok('agents', 'no agents registered: what a caller sees depends on its token (tenant claim, scopes)'));
  for (const v of survey.views) out.push(viewFinding(v));
  return out;
}

function viewFinding(v: PrincipalView): Finding {
  const who = `agent ${v.principal.agent}`;
  const check = who.length > 40 ? `agent …${v.principal.agent.slice(-32)}` : who;
  const seen = `sees ${v.shown.length} of ${v.total} tools${v.principal.tenant ? ` (tenant ${v.principal.tenant})` : ' (no tenant)'}`;
  if (v.total === 0 || v.shown.length > 0) {
    const first = v.hidden ? `; first hidden: ${v.hidden.item} (${v.hidden.reason})` : '';
    return ok(check, `${seen}${v.total === 0 ? '' : first}`);
  }
  const why = v.hidden ? `: ${v.hidden.item}: ${v.hidden.reason}` : '';
  return problem(check, `${seen}${why}`, v.hidden?.hint ?? `permit it in a policy, or check it with \`warden policy explain\``);
}

export function configFinding(err: unknown): Finding {
  if (err instanceof ConfigError) return problem('config', configLines(err), 'correct the keys named above (docs/configuration.md lists every key)');
  return problem('config', String((err as Error).message ?? err), 'check the file');
}
