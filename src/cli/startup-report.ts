/**
 * What `warden serve` says once it listens: each upstream started and listed (or why not), and how many of
 * the tools each registered agent may see under the policy. A list that hides everything is a warning with
 * the first reason (the gateway logs it). Skipped when warnings are not logged: it would say nothing.
 */
import type { WardenConfig } from '../config/index.js';
import type { Gateway, Survey } from '../gateway/index.js';
import { ANONYMOUS, type Principal } from '../identity/index.js';
import type { Logger } from '../telemetry/log.js';

/** The principals a config knows before any request: its registered agents, or the anonymous caller without auth. */
export function configuredPrincipals(config: WardenConfig): Principal[] {
  const auth = config.auth;
  // Without auth every caller is "anonymous", with the tenant its registration gives it.
  if (auth?.mode === 'none') return [{ ...ANONYMOUS, tenant: config.agents.anonymous?.tenant ?? null }];
  const scopes = auth ? [...auth.requiredScopes] : [];
  return Object.entries(config.agents).map(([agent, reg]) => ({
    ...ANONYMOUS,
    agent,
    tenant: reg.tenant ?? null,
    method: agent.startsWith('spiffe://') ? 'spiffe-jwt' : 'oauth-jwt',
    scopes,
  }));
}

export function logSurvey(survey: Survey, log: Logger): void {
  for (const u of survey.upstreams) {
    if (u.withinTask) log.info({ upstream: u.name }, `upstream ${u.name}: connects within tasks only (it uses a lease)`);
    else if (u.ok) log.info({ upstream: u.name, tools: u.tools.length }, `upstream ${u.name}: ${u.tools.length} tools`);
    else log.warn({ upstream: u.name, reason: u.reason, ...(u.stderr ? { stderr: u.stderr.join('\n') } : {}) }, `upstream ${u.name} lists no tools: ${u.reason}`);
  }
  for (const v of survey.views) {
    const who = `${v.principal.agent}${v.principal.tenant ? ` (tenant ${v.principal.tenant})` : ''}`;
    log.info({ agent: v.principal.agent, shown: v.shown.length, total: v.total, firstHidden: v.hidden?.item, reason: v.hidden?.reason }, `${who} sees ${v.shown.length} of ${v.total} tools`);
  }
}

export async function reportStartup(gateway: Gateway, config: WardenConfig, log: Logger): Promise<void> {
  if (!log.isLevelEnabled('warn')) return;
  try {
    logSurvey(await gateway.survey(configuredPrincipals(config)), log);
  } catch (err) {
    log.warn({ err }, 'the start-up survey of upstreams failed');
  }
}
