/**
 * Review checks that read the store: the revocation path, signing keys at rest and their age, the vault's
 * secrets (present, fresh) for the references upstreams make, the audit chain, and the agents' activity
 * (unused, unregistered, revoked but still registered, granted tools never called).
 */
import { isSealed } from '../identity/index.js';
import type { WardenConfig } from '../config/index.js';
import type { SecretMetadata } from '../credentials/index.js';
import type { Store } from '../store/index.js';
import { reviewFinding } from './review-config.js';
import type { CredentialKind, ReviewDeps, ReviewFinding, ReviewInput } from './review-model.js';

const DAY_MS = 86_400_000;
/** Newest events read to find who calls the gateway (agents are not indexed apart from events). */
export const RECENT_EVENTS = 10_000;
const SECRET_REF = /\$\{secret:([^}]*)\}/g;
const LEASE_REF = /\$\{lease:[^}]*\}/;

export interface StoreFacts {
  lastSeen: Map<string, string>;
  authMethods: Map<string, Set<string>>;
  chainOk: boolean | undefined;
  events: number;
  revocationOk: boolean;
  credentials: Map<string, CredentialKind>;
  staleUpstreams: Set<string>;
}

const textsOf = (s: WardenConfig['mcpServers'][string]): string[] =>
  'command' in s ? [...s.args, ...Object.values(s.env)] : [s.url, ...Object.values(s.headers)];

/** What kind of credential an upstream is given: a lease, vault secrets, or none (a literal is found by the scan). */
export function credentialKind(s: WardenConfig['mcpServers'][string]): CredentialKind {
  const texts = textsOf(s);
  if (texts.some((t) => LEASE_REF.test(t))) return 'lease';
  return texts.some((t) => t.includes('${secret:')) ? 'vault' : 'none';
}

/** The secret a reference resolves to, as the gateway picks it: the most specific scope that matches. */
function resolveRef(
  list: SecretMetadata[],
  name: string,
  upstream: string,
  s: WardenConfig['mcpServers'][string],
): SecretMetadata | undefined {
  const scope = { tenant: s.tenant ?? null, environment: s.environment ?? 'prod', upstream };
  const rank = (m: SecretMetadata) => [m.tenant, m.environment, m.upstream].filter((d) => d !== null).length;
  const matching = list.filter(
    (m) =>
      m.name === name &&
      (m.tenant === null || m.tenant === scope.tenant) &&
      (m.environment === null || m.environment === scope.environment) &&
      (m.upstream === null || m.upstream === upstream),
  );
  return matching.sort((a, b) => rank(b) - rank(a))[0];
}

async function revocationPath(store: Store): Promise<string | undefined> {
  try {
    await store.revocations.list({ limit: 1 });
    if (store.revocations.subscribe)
      await (
        await store.revocations.subscribe(
          () => undefined,
          () => undefined,
        )
      ).close();
    return undefined;
  } catch (err) {
    return (err as Error).name;
  }
}

export async function storeChecks(
  input: ReviewInput,
  store: Store,
  deps: ReviewDeps,
): Promise<{ findings: ReviewFinding[]; facts: StoreFacts }> {
  const { config, now } = input;
  const out: ReviewFinding[] = [];
  const facts: StoreFacts = {
    lastSeen: new Map(),
    authMethods: new Map(),
    chainOk: undefined,
    events: 0,
    revocationOk: true,
    credentials: new Map(),
    staleUpstreams: new Set(),
  };
  const broken = await revocationPath(store);
  if (broken !== undefined) {
    facts.revocationOk = false;
    out.push(
      reviewFinding(
        'revocation-unavailable',
        'gateway',
        'gateway',
        `the revocation list (or its notification channel) cannot be read: ${broken}`,
      ),
    );
  }
  const keys = await store.keys.list(now.toISOString());
  const clear = keys.filter((k) => !isSealed(k.privateKey));
  if (clear.length > 0)
    out.push(
      reviewFinding(
        'signing-keys-clear',
        'gateway',
        'gateway',
        `${clear.length} signing key${clear.length === 1 ? ' is' : 's are'} stored with the private part in clear (kid ${clear.map((k) => k.kid).join(', ')})`,
      ),
    );
  const newest = keys.map((k) => Date.parse(k.createdAt)).sort((a, b) => b - a)[0];
  const period = config.tokenService.keyRotationHours * 3_600_000;
  if (config.tokenService.enabled && newest !== undefined && now.getTime() - newest > 2 * period) {
    out.push(
      reviewFinding(
        'signing-key-stale',
        'gateway',
        'gateway',
        `the newest signing key is ${Math.floor((now.getTime() - newest) / DAY_MS)} days old, over twice the rotation period`,
      ),
    );
  }
  const secrets = await store.secrets.list();
  for (const [name, s] of Object.entries(config.mcpServers)) {
    facts.credentials.set(name, credentialKind(s));
    for (const ref of new Set(textsOf(s).flatMap((t) => [...t.matchAll(SECRET_REF)].map((m) => m[1]!)))) {
      const found = resolveRef(secrets, ref, name, s);
      if (!found) {
        out.push(
          reviewFinding(
            'secret-missing',
            'upstream',
            name,
            `\${secret:${ref}} is not in the vault for this server's scope`,
          ),
        );
        continue;
      }
      const days = Math.floor((now.getTime() - Date.parse(found.updatedAt)) / DAY_MS);
      if (days > input.maxSecretAgeDays) {
        facts.staleUpstreams.add(name);
        out.push(
          reviewFinding(
            'secret-not-rotated',
            'upstream',
            name,
            `secret ${ref} was last set ${days} days ago (the period is ${input.maxSecretAgeDays})`,
          ),
        );
      }
    }
    if (facts.credentials.get(name) === 'vault')
      out.push(
        reviewFinding(
          'static-credential',
          'upstream',
          name,
          'its credential is a static secret shared by every call: revoking one task cannot revoke it',
        ),
      );
  }
  const chain = await deps.verifyAudit(store);
  facts.chainOk = chain.ok;
  facts.events = chain.events;
  if (!chain.ok)
    out.push(
      reviewFinding(
        'audit-chain-broken',
        'gateway',
        'gateway',
        `the hash chain breaks after ${chain.events} events${chain.problem ? `: ${chain.problem}` : ''}`,
      ),
    );
  for (const e of await store.audit.tail({ limit: RECENT_EVENTS })) {
    if (!e.agent) continue;
    if (!facts.lastSeen.has(e.agent) || facts.lastSeen.get(e.agent)! < e.time) facts.lastSeen.set(e.agent, e.time);
    if (e.authMethod)
      facts.authMethods.set(e.agent, new Set([...(facts.authMethods.get(e.agent) ?? []), e.authMethod]));
  }
  for (const agent of [...facts.lastSeen.keys()].filter((a) => !(a in config.agents)).sort()) {
    out.push(
      reviewFinding(
        'agent-unregistered',
        'agent',
        agent,
        `it made requests (last ${facts.lastSeen.get(agent)}) but is not under \`agents\`: no owner, tenant or groups`,
      ),
    );
  }
  const since = new Date(now.getTime() - input.unusedDays * DAY_MS).toISOString();
  for (const agent of Object.keys(config.agents)) {
    if (!facts.lastSeen.has(agent)) {
      const [latest] = await store.audit.trace({ agent, limit: 1 });
      if (latest) facts.lastSeen.set(agent, latest.time);
    }
    const seen = facts.lastSeen.get(agent);
    if (seen === undefined || seen < since)
      out.push(
        reviewFinding(
          'agent-unused',
          'agent',
          agent,
          seen === undefined
            ? 'it has never called the gateway'
            : `its last request was on ${seen.slice(0, 10)}, over ${input.unusedDays} days ago`,
        ),
      );
  }
  const revoked = await store.revocations.list({ kind: 'agent', limit: 10_000 });
  for (const r of revoked.filter((x) => x.value in config.agents))
    out.push(
      reviewFinding(
        'agent-revoked-registered',
        'agent',
        r.value,
        `it was revoked on ${r.revokedAt.slice(0, 10)} by ${r.by} but is still under \`agents\``,
      ),
    );
  out.push(...(await unusedGrants(input, store, deps, since)));
  return { findings: out, facts };
}

/** Per agent, tools its recent tasks were granted and never called. */
async function unusedGrants(
  input: ReviewInput,
  store: Store,
  deps: ReviewDeps,
  since: string,
): Promise<ReviewFinding[]> {
  const unused = new Map<string, Set<string>>();
  for (const task of await store.tasks.list({ limit: 1000 })) {
    if (task.createdAt < since || task.state === 'active') continue;
    const events = await store.audit.trace({ task: task.id, limit: 10_000 });
    const called = new Set(
      events
        .filter((e) => e.method === 'tools/call' && e.upstream && e.target && e.outcome === 'ok')
        .map((e) => deps.exposedName(e.upstream!, e.target!)),
    );
    const usedServers = new Set(events.filter((e) => e.method === 'tools/call' && e.upstream).map((e) => e.upstream!));
    const idle = [
      ...task.tools.filter((t) => !called.has(t)),
      ...task.servers.filter((s) => !usedServers.has(s)).map((s) => `${s} (whole server)`),
    ];
    if (idle.length > 0) unused.set(task.agent, new Set([...(unused.get(task.agent) ?? []), ...idle]));
  }
  return [...unused].map(([agent, tools]) => {
    const list = [...tools].sort();
    return reviewFinding(
      'grants-unused',
      'agent',
      agent,
      `tasks ended in the last ${input.unusedDays} days were granted ${list.length} tool${list.length === 1 ? '' : 's'} they never called: ${list.slice(0, 5).join(', ')}${list.length > 5 ? ', ...' : ''}`,
    );
  });
}
