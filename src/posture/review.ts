/**
 * `warden review`: a deployment's readiness for production from its config, policy, store and audit. It
 * reports findings (each with its fix and mapping) and, per agent and per upstream, whether its identity
 * is verifiable, its access scoped, its use logged, its credentials rotated and revocable. It reads only:
 * nothing is written to the store, no upstream is started, no master key is needed.
 */
import { scrubberOf } from './report-scan.js';
import { scan } from './scan.js';
import { severityRank, SEVERITIES, type Severity } from './model.js';
import { configChecks, policyProbes } from './review-config.js';
import { pinChecks } from './review-pins.js';
import type {
  AgentReadiness,
  Readiness,
  ReviewFinding,
  ReviewInput,
  ReviewReport,
  UpstreamReadiness,
  Verdict,
} from './review-model.js';
import { credentialKind, storeChecks, type StoreFacts } from './review-store.js';

/** The worst verdict wins. */
const worst = (...v: Verdict[]): Verdict =>
  v.includes('no') ? 'no' : v.includes('partial') ? 'partial' : v.every((x) => x === 'n/a') ? 'n/a' : 'yes';

function readiness(
  input: ReviewInput,
  findings: ReviewFinding[],
  facts: StoreFacts | undefined,
): { agents: AgentReadiness[]; upstreams: UpstreamReadiness[] } {
  const has = (check: string, kind?: string, name?: string) =>
    findings.some(
      (f) => f.check === check && (kind === undefined || (f.subject.kind === kind && f.subject.name === name)),
    );
  const logged = worst(
    has('audit-chain-broken') || has('audit-arguments-none') ? 'no' : 'yes',
    has('audit-not-exported') ? 'partial' : 'yes',
    facts ? 'yes' : 'partial',
  );
  const revocable = worst(
    has('revocation-unavailable') ? 'no' : 'yes',
    has('revocation-slow') ? 'partial' : 'yes',
    facts ? 'yes' : 'partial',
  );
  const identity: Verdict = has('auth-none') || has('auth-missing') ? 'no' : 'yes';
  const tokens = worst(
    has('signing-keys-clear') || has('token-ttl') ? 'no' : 'yes',
    has('signing-key-stale') ? 'partial' : 'yes',
  );
  const agentNames = [
    ...new Set([...Object.keys(input.config.agents), ...(facts ? [...facts.lastSeen.keys()] : [])]),
  ].sort();
  const agents = agentNames.map((agent): AgentReadiness => {
    const reg = input.config.agents[agent];
    const methods = facts?.authMethods.get(agent);
    const scoped =
      has('permit-all') || has('standing-privilege', 'agent', agent)
        ? 'no'
        : has('grants-unused', 'agent', agent)
          ? 'partial'
          : 'yes';
    const r: Readiness = {
      verifiable: worst(identity, methods?.has('none') ? 'no' : 'yes', reg ? 'yes' : 'partial'),
      scoped,
      logged,
      rotated: tokens,
      revocable: worst(revocable, has('agent-unused', 'agent', agent) ? 'partial' : 'yes'),
    };
    return {
      agent,
      owner: reg?.owner ?? null,
      registered: reg !== undefined,
      lastSeen: facts?.lastSeen.get(agent) ?? null,
      ...r,
    };
  });
  const upstreams = Object.entries(input.config.mcpServers).map(([name, s]): UpstreamReadiness => {
    const literal = has('hardcoded-secret', 'upstream', name);
    const credential = literal ? 'literal' : credentialKind(s);
    const byCredential: Record<typeof credential, Verdict> = {
      literal: 'no',
      vault: 'partial',
      lease: 'yes',
      none: 'n/a',
    };
    const unsafe = ['destructive-without-approval', 'broad-filesystem-root', 'privileged-container'].some((c) =>
      has(c, 'upstream', name),
    );
    return {
      upstream: name,
      environment: s.environment ?? 'prod',
      credential,
      verifiable: byCredential[credential],
      scoped: has('permit-all') || unsafe ? 'no' : has('annotations-trusted', 'upstream', name) ? 'partial' : 'yes',
      logged,
      rotated:
        literal || has('secret-not-rotated', 'upstream', name) || has('secret-missing', 'upstream', name)
          ? 'no'
          : credential === 'none'
            ? 'n/a'
            : credential === 'lease'
              ? 'yes'
              : facts
                ? 'yes'
                : 'partial',
      revocable: worst(byCredential[credential], revocable),
    };
  });
  return { agents, upstreams };
}

export async function review(input: ReviewInput): Promise<ReviewReport> {
  const findings: ReviewFinding[] = [...configChecks(input.config)];
  const notes: string[] = [];
  const policy = input.policy;
  if (policy && 'error' in policy) {
    notes.push(`the policy did not load (${policy.error}): the gateway would not start; decisions were not probed`);
  } else if (policy) findings.push(...policyProbes(input, policy, input.deps));
  // The scan of warden.yaml: secrets written in it, unpinned packages, broad roots, privileged containers.
  const scanned = await scan({ paths: [input.configFile], home: input.home, cwd: input.baseDir, now: input.now });
  for (const f of scanned.findings) {
    findings.push({
      check: f.rule,
      id: f.id,
      severity: f.severity,
      subject: { kind: f.server ? 'upstream' : 'gateway', name: f.server ?? 'gateway' },
      why: f.why,
      fix: f.fix,
      mapping: f.mapping,
    });
  }
  let facts: StoreFacts | undefined;
  if (input.store) {
    const r = await storeChecks(input, input.store, input.deps);
    findings.push(...r.findings);
    facts = r.facts;
    notes.push(
      `audit: ${facts.events} events verified${facts.chainOk ? ' intact' : ''}; agents seen in the newest events, up to 10000`,
    );
  } else {
    notes.push('no store yet (the gateway has not run): keys, secrets, audit and agent activity were not checked');
  }
  findings.push(...(await pinChecks(input.config, input.pins)));
  findings.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      a.subject.kind.localeCompare(b.subject.kind) ||
      a.subject.name.localeCompare(b.subject.name) ||
      a.check.localeCompare(b.check),
  );
  const summary = Object.fromEntries(
    SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length]),
  ) as Record<Severity, number>;
  const report: ReviewReport = {
    config: input.configFile,
    store: input.store?.location ?? null,
    generatedAt: input.now.toISOString(),
    summary,
    ...readiness(input, findings, facts),
    findings,
    notes,
  };
  // As for the scan's output: a secret written in warden.yaml appears nowhere in the report, whatever text holds it.
  return scrubberOf(scanned.secretValues).json(report).value;
}
