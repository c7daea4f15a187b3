/**
 * `warden doctor [-c warden.yaml] [--json]`: checks a config end to end, as the gateway would use it: the
 * config, auth, the store, the policy, approvals, then the gateway itself started (on an ephemeral loopback
 * port, so a running gateway is not disturbed), each upstream started and listed, and which tools each
 * registered agent may see under the policy. Each problem comes with its fix. Exit 0: no problem; 1: problems.
 */
import { loadConfig, type LoadedConfig } from '../config/index.js';
import { silentLogger } from '../telemetry/log.js';
import { checkApprovals, checkAuth, checkPolicy, checkStore, configFinding, surveyFindings, type Finding } from './doctor-checks.js';
import { startGateway } from './start-gateway.js';
import { configuredPrincipals } from './startup-report.js';

export interface DoctorOptions {
  config: string;
  json?: boolean;
}

/** Starts the gateway as configured (but on 127.0.0.1:0 and the given store) and surveys it. */
async function surveyGateway(loaded: LoadedConfig, store: string): Promise<Finding[]> {
  const { config, baseDir, file } = loaded;
  let running;
  try {
    running = await startGateway({ ...config, listen: '127.0.0.1:0', store }, baseDir, silentLogger(), file);
  } catch (err) {
    const lines = (err as Error).message.split('\n');
    const keys = lines.filter((l) => l.startsWith('  - ')).map((l) => l.slice(4));
    return [{ check: 'start', ok: false, detail: keys.length > 0 ? keys.join('; ') : lines[0]!, fix: 'the gateway would not start: correct what is named above' }];
  }
  try {
    return surveyFindings(await running.gateway.survey(configuredPrincipals(config)), loaded);
  } finally {
    await running.close();
  }
}

export async function runDoctor(configFile: string): Promise<{ file: string; findings: Finding[] }> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(configFile);
  } catch (err) {
    return { file: configFile, findings: [configFinding(err)] };
  }
  const { config } = loaded;
  const servers = Object.keys(config.mcpServers);
  const findings: Finding[] = [{ check: 'config', ok: true, detail: `valid: ${servers.length} upstream(s) (${servers.join(', ') || 'none'}), ${Object.keys(config.agents).length} registered agent(s)` }];
  const auth = checkAuth(loaded);
  const store = await checkStore(loaded);
  const policy = checkPolicy(loaded);
  findings.push(...auth, ...store.findings, ...policy, ...checkApprovals(loaded));
  // The upstreams and what agents see need a gateway that can start: working auth and a store.
  if (auth.every((f) => f.ok) && store.spec !== undefined) findings.push(...(await surveyGateway(loaded, store.spec)));
  else findings.push({ check: 'upstreams', ok: false, detail: 'not checked: the problems above stop the gateway from starting', fix: 'fix those first, then run warden doctor again' });
  return { file: loaded.file, findings };
}

export function formatFindings(file: string, findings: readonly Finding[]): string {
  const width = Math.min(28, Math.max(...findings.map((f) => f.check.length)));
  const lines = [`warden doctor: ${file}`];
  for (const f of findings) {
    const [first, ...rest] = f.detail.split('\n');
    lines.push(`  ${f.ok ? 'ok     ' : 'PROBLEM'}  ${f.check.padEnd(width)}  ${first}`, ...rest.map((l) => `  ${' '.repeat(9 + width)}${l}`));
    if (f.fix) lines.push(`  ${' '.repeat(9 + width)}  fix: ${f.fix}`);
  }
  const problems = findings.filter((f) => !f.ok).length;
  lines.push(problems === 0 ? 'no problems found' : `${problems} problem${problems === 1 ? '' : 's'} found`);
  return lines.join('\n') + '\n';
}

export async function doctor(opts: DoctorOptions): Promise<number> {
  const { file, findings } = await runDoctor(opts.config);
  if (opts.json) process.stdout.write(JSON.stringify({ file, ok: findings.every((f) => f.ok), findings }) + '\n');
  else process.stdout.write(formatFindings(file, findings));
  return findings.every((f) => f.ok) ? 0 : 1;
}
