/**
 * Differential tests: the compiled engine against cedar-wasm's authorizer on thousands of generated
 * policy sets and requests. Each case must agree on the decision, the determining policies and the set
 * of erroring policies (or both must refuse the request).
 *
 * Part 1, unvalidated: policies mix every operator, with wrong-typed subexpressions, bad extension
 * literals, overflow, missing entities and attributes; no schema. Part 2, validated: policies that pass
 * strict validation against a schema, requests read with that schema (cedar-wasm with validateRequest).
 *
 * Replay: POLICY_DIFF_SEED=<seed> (and POLICY_DIFF_SETS=1) runs the sets from that seed; a failure
 * prints the seed of its set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validate } from '@cedar-policy/cedar-wasm/nodejs';
import { loadPolicyEngine, loadUnvalidated, type DecisionRequest, type PolicyEngine } from '../../src/policy/engine.js';
import { CedarOracle, engineOutcome, sameOutcome, type Outcome } from './gen/oracle.js';
import { PolicyGen } from './gen/policies.js';
import { Rng } from './gen/random.js';
import { ACTIONS, GROUPS, SCHEMA, SERVERS, TOOLS, uid, USERS, World } from './gen/world.js';

const BASE_SEED = Number(process.env.POLICY_DIFF_SEED ?? 20_260_901);
const SETS = process.env.POLICY_DIFF_SETS === undefined ? undefined : Number(process.env.POLICY_DIFF_SETS);
const REQUESTS_PER_SET = 10;

interface Stats {
  sets: number;
  requests: number;
  policies: number;
  allow: number;
  deny: number;
  forbidWins: number;
  errored: number;
  refused: number;
  fallbackPolicies: number;
}

const newStats = (): Stats => ({ sets: 0, requests: 0, policies: 0, allow: 0, deny: 0, forbidWins: 0, errored: 0, refused: 0, fallbackPolicies: 0 });

function tally(s: Stats, o: Outcome, engine: PolicyEngine): void {
  s.requests++;
  if (o.kind === 'refused') {
    s.refused++;
    return;
  }
  if (o.decision === 'allow') s.allow++;
  else s.deny++;
  if (o.decision === 'deny' && o.reasons.length > 0) s.forbidWins++;
  s.errored += o.errors.length;
  void engine;
}

function mismatch(seed: number, policies: Record<string, string>, req: DecisionRequest, got: Outcome, want: Outcome): string {
  return [
    `mismatch for seed ${seed} (replay: POLICY_DIFF_SEED=${seed} POLICY_DIFF_SETS=1)`,
    `engine: ${JSON.stringify(got)}`,
    `cedar:  ${JSON.stringify(want)}`,
    `request: ${JSON.stringify(req)}`,
    'policies:',
    ...Object.values(policies),
  ].join('\n');
}

function request(rng: Rng, world: World, withActions: boolean, strictTypes: boolean): DecisionRequest {
  const odd = !strictTypes && rng.chance(0.1);
  return {
    principal: odd ? uid('Group', rng.pick(GROUPS)) : uid('User', rng.pick([...USERS, 'nobody'])),
    action: uid('Action', rng.pick(ACTIONS)),
    resource: odd && rng.chance(0.5) ? uid('Server', rng.pick(SERVERS)) : uid('Tool', rng.pick(TOOLS)),
    context: world.context(),
    entities: world.entities(withActions),
  };
}

test('compiled decisions equal cedar-wasm on unvalidated random policies (no schema)', () => {
  const stats = newStats();
  const sets = SETS ?? 250;
  for (let s = 0; s < sets; s++) {
    const seed = BASE_SEED + s;
    const rng = new Rng(seed);
    const gen = new PolicyGen(rng, { chaos: 0.08, guarded: false, bigLiterals: true });
    const policies: Record<string, string> = {};
    for (let i = 0, n = 1 + rng.int(12); i < n; i++) policies[`p${i}`] = gen.policy(`p${i}`);
    const engine = loadUnvalidated([{ name: 'gen.cedar', text: Object.values(policies).join('\n\n') }]);
    const oracle = new CedarOracle(policies);
    stats.sets++;
    stats.policies += engine.policies.length;
    stats.fallbackPolicies += engine.fallbacks.length;
    const world = new World(rng, { chaos: 0.08, typedForms: false });
    for (let q = 0; q < REQUESTS_PER_SET; q++) {
      const req = request(rng, world, true, false);
      const want = oracle.decide(req);
      const got = engineOutcome(engine, req);
      if (!sameOutcome(got, want)) assert.fail(mismatch(seed, policies, req, got, want));
      tally(stats, want, engine);
    }
  }
  console.log(`unvalidated: ${JSON.stringify(stats)}`);
  // The generator must actually reach the interesting outcomes.
  assert.ok(stats.allow > stats.requests * 0.1 && stats.forbidWins > stats.requests * 0.05 && stats.errored > stats.requests * 0.2, JSON.stringify(stats));
});

test('compiled decisions equal cedar-wasm on strictly validated policies, with the schema', () => {
  const stats = newStats();
  const sets = SETS ?? 50;
  const schemaName = CedarOracle.schema('diff-schema', SCHEMA);
  let generated = 0;
  for (let s = 0; s < sets; s++) {
    const seed = BASE_SEED + 1_000_000 + s;
    const rng = new Rng(seed);
    const gen = new PolicyGen(rng, { chaos: 0, guarded: true, bigLiterals: false });
    const policies: Record<string, string> = {};
    for (let i = 0; Object.keys(policies).length < 8 && i < 60; i++) {
      const text = gen.policy(`p${i}`);
      generated++;
      const v = validate({ schema: SCHEMA, policies: { staticPolicies: { [`p${i}`]: text } }, validationSettings: { mode: 'strict' } });
      if (v.type === 'success' && v.validationErrors.length === 0) policies[`p${i}`] = text;
    }
    const engine = loadPolicyEngine({ schema: SCHEMA, sources: [{ name: 'gen.cedar', text: Object.values(policies).join('\n\n') }] });
    const oracle = new CedarOracle(policies, schemaName);
    stats.sets++;
    stats.policies += engine.policies.length;
    stats.fallbackPolicies += engine.fallbacks.length;
    const world = new World(rng, { chaos: rng.chance(0.2) ? 0.01 : 0, typedForms: true });
    for (let q = 0; q < REQUESTS_PER_SET; q++) {
      const req = request(rng, world, false, true);
      const want = oracle.decide(req);
      const got = engineOutcome(engine, req);
      if (!sameOutcome(got, want)) assert.fail(mismatch(seed, policies, req, got, want));
      tally(stats, want, engine);
    }
  }
  console.log(`validated: ${JSON.stringify(stats)} (kept ${stats.policies} of ${generated} generated policies)`);
  assert.ok(stats.policies > sets * 4 && stats.allow > 0 && stats.forbidWins > 0, JSON.stringify(stats));
});
