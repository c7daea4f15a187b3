/**
 * Which issuer an agent id belongs to. A registration (`agents.<id>`) binds its id to one issuer: the one it
 * names (`issuer`), else the trust domain of a SPIFFE ID (`spiffe://<domain>`), else the only OAuth issuer
 * when exactly one is trusted. An unregistered SPIFFE ID belongs to its trust domain; any other unregistered
 * id belongs to no issuer in particular (the policy can still read `principal.issuer`). The same rules check
 * the config at load time (`agentIssuerProblems`) and bind tokens at run time (src/identity/agent-issuers.ts).
 */

/** The minimum of a config these rules read. */
export interface AgentIssuerConfig {
  auth?: { mode: 'none' } | { mode: 'oauth'; issuers: ReadonlyArray<{ issuer: string }>; spiffe?: { trustDomain: string } | undefined } | undefined;
  agents: Readonly<Record<string, { issuer?: string | undefined; delegatesFrom?: readonly string[] }>>;
  tokenService?: { enabled: boolean; issuer?: string | undefined };
  publicUrl?: string | undefined;
}

export interface ConfigProblem {
  path: (string | number)[];
  message: string;
}

const SPIFFE = /^spiffe:\/\/([a-z0-9._-]+)\//;

/** The issuer name of a SPIFFE trust domain, as registrations and `principal.issuer` spell it. */
export const trustDomainIssuer = (domain: string): string => `spiffe://${domain}`;

/** The trust domain of a SPIFFE ID, or undefined for any other id. */
export function trustDomainOf(id: string): string | undefined {
  return SPIFFE.exec(id)?.[1];
}

function oauthIssuers(cfg: AgentIssuerConfig): string[] {
  return cfg.auth?.mode === 'oauth' ? cfg.auth.issuers.map((i) => i.issuer) : [];
}

const registration = (cfg: AgentIssuerConfig, id: string) => (Object.hasOwn(cfg.agents, id) ? cfg.agents[id] : undefined);

/**
 * The issuer `id` belongs to, or null when any trusted issuer may name it (an unregistered, non-SPIFFE id, or
 * a registration while no OAuth issuer is trusted). Throws nothing: an ambiguous registration (several
 * issuers, none named) is a config error reported by agentIssuerProblems, and resolves to a value no issuer
 * has, so a config that slipped past the check still refuses every token naming it.
 */
export function agentHome(cfg: AgentIssuerConfig, id: string): string | null {
  const reg = registration(cfg, id);
  const domain = trustDomainOf(id);
  if (reg?.issuer !== undefined) return reg.issuer;
  if (domain !== undefined) return trustDomainIssuer(domain);
  if (reg === undefined) return null;
  const issuers = oauthIssuers(cfg);
  if (issuers.length === 0) return null;
  return issuers.length === 1 ? issuers[0]! : '(ambiguous: no issuer named)';
}

/** What is wrong with one registration: an issuer that is not trusted or does not fit, none where several are. */
function registrationProblems(cfg: AgentIssuerConfig, id: string, reg: AgentIssuerConfig['agents'][string], known: string[], issuers: string[]): ConfigProblem[] {
  const at = ['agents', id];
  const problems: ConfigProblem[] = [];
  const quoted = (list: string[]) => (list.length > 0 ? list.map((k) => `"${k}"`).join(', ') : 'none');
  if (reg.issuer !== undefined && !known.includes(reg.issuer)) {
    const message = `"${reg.issuer}" is not a trusted issuer (auth.issuers, or auth.spiffe as spiffe://<trustDomain>); trusted: ${quoted(known)}`;
    problems.push({ path: [...at, 'issuer'], message });
  } else if (reg.issuer?.startsWith('spiffe://') && trustDomainIssuer(trustDomainOf(id) ?? '') !== reg.issuer) {
    problems.push({ path: [...at, 'issuer'], message: `only SPIFFE IDs of ${reg.issuer} come from that trust domain; this agent id is not one` });
  } else if (reg.issuer === undefined && trustDomainOf(id) === undefined && issuers.length > 1) {
    const message = `${issuers.length} issuers are trusted (${quoted(issuers)}): name the one whose tokens act as this agent, e.g. issuer: "${issuers[0]}"`;
    problems.push({ path: at, message });
  }
  if (issuers.length <= 1) return problems;
  for (const [i, from] of (reg.delegatesFrom ?? []).entries()) {
    if (from === '*' || trustDomainOf(from) !== undefined || registration(cfg, from) !== undefined) continue;
    const message = `"${from}" is not a registered agent: with several issuers, register it under agents with its issuer, so a token from another issuer cannot delegate as it`;
    problems.push({ path: [...at, 'delegatesFrom', i], message });
  }
  return problems;
}

/** What is wrong with the list of OAuth issuers: one listed twice, one named like a trust domain or like the gateway itself. */
function issuerListProblems(cfg: AgentIssuerConfig, issuers: string[]): ConfigProblem[] {
  const own = cfg.tokenService?.enabled === false ? undefined : (cfg.tokenService?.issuer ?? (cfg.publicUrl ? new URL(cfg.publicUrl).origin : undefined));
  return issuers.flatMap((issuer, i) => {
    const path = ['auth', 'issuers', i, 'issuer'];
    const out: ConfigProblem[] = [];
    if (issuers.indexOf(issuer) !== i) out.push({ path, message: `"${issuer}" is listed twice: each issuer once, with one set of keys` });
    if (issuer === own) out.push({ path, message: `"${issuer}" is the gateway's own token service issuer (tokenService.issuer or the origin of publicUrl): tokens naming it are the gateway's` });
    if (issuer.startsWith('spiffe://')) out.push({ path, message: 'an OAuth issuer may not be named spiffe://...: that names a SPIFFE trust domain (auth.spiffe)' });
    return out;
  });
}

/** What is wrong with the config's agent registrations and issuers; empty when nothing is. */
export function agentIssuerProblems(cfg: AgentIssuerConfig): ConfigProblem[] {
  if (cfg.auth?.mode !== 'oauth') return [];
  const issuers = oauthIssuers(cfg);
  const domain = cfg.auth.spiffe?.trustDomain;
  const known = [...issuers, ...(domain !== undefined ? [trustDomainIssuer(domain)] : [])];
  return [...Object.entries(cfg.agents).flatMap(([id, reg]) => registrationProblems(cfg, id, reg, known, issuers)), ...issuerListProblems(cfg, issuers)];
}
