/**
 * Value-level differential test: for thousands of random expressions of every type, the value the
 * compiled code computes (written back as a Cedar literal) must equal what Cedar computes, checked by
 * cedar-wasm as `(expr) == (value)`; an expression that errors in compiled code must error in Cedar.
 * This sees differences a decision hides (an off-by-one datetime that no policy happened to compare).
 * Replay: POLICY_VALUES_SEED=<seed> POLICY_VALUES_COUNT=1.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAuthorized, policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { compileExpr, Unsupported, type Env } from '../../src/policy/compile-expr.js';
import { PolicyInputError } from '../../src/policy/errors.js';
import { buildStore, jsonToRecord, toUid } from '../../src/policy/input.js';
import { EvalError, type Value } from '../../src/policy/values.js';
import { PolicyGen } from './gen/policies.js';
import { Rng } from './gen/random.js';
import { render } from './gen/render.js';
import { ACTIONS, GROUPS, TOOLS, uid, USERS, World } from './gen/world.js';

const BASE_SEED = Number(process.env.POLICY_VALUES_SEED ?? 7_000_000);
const COUNT = Number(process.env.POLICY_VALUES_COUNT ?? 3000);
const TYPES = ['bool', 'long', 'string', 'entity', 'set', 'record', 'ip', 'decimal', 'datetime', 'duration'] as const;

test('compiled expression values equal Cedar values', () => {
  const counts = { values: 0, errors: 0, unsupported: 0, refused: 0, byType: {} as Record<string, number> };
  for (let i = 0; i < COUNT; i++) {
    const seed = BASE_SEED + i;
    const rng = new Rng(seed);
    const type = rng.pick(TYPES);
    const expr = new PolicyGen(rng, { chaos: i % 2 === 0 ? 0.05 : 0.15, guarded: false, bigLiterals: false }).gen(type, 1 + rng.int(4));
    const world = new World(rng, { chaos: 0.05, typedForms: false });
    const req = {
      principal: rng.chance(0.9) ? uid('User', rng.pick(USERS)) : uid('Group', rng.pick(GROUPS)),
      action: uid('Action', rng.pick(ACTIONS)),
      resource: uid('Tool', rng.pick(TOOLS)),
      context: world.context(),
      entities: world.entities(true),
    };
    const est = policyToJson(`permit(principal, action, resource) when { ${expr} };`);
    assert.equal(est.type, 'success', `generator wrote an unparsable expression (seed ${seed}): ${expr}`);
    if (est.type !== 'success') continue;
    let fn;
    try {
      fn = compileExpr((est.json.conditions[0] as { body: unknown }).body);
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e;
      counts.unsupported++;
      continue;
    }
    let store: Env['store'];
    try {
      store = buildStore(req.entities);
    } catch (e) {
      // A cyclic hierarchy is refused as input (Cedar refuses it too; differential.test.ts checks both do).
      if (!(e instanceof PolicyInputError)) throw e;
      counts.refused++;
      continue;
    }
    const env: Env = {
      principal: toUid(req.principal, 'p'),
      action: toUid(req.action, 'a'),
      resource: toUid(req.resource, 'r'),
      context: jsonToRecord(req.context, 'context'),
      store,
    };
    let value: Value | undefined;
    let error: string | undefined;
    try {
      value = fn(env);
    } catch (e) {
      if (!(e instanceof EvalError)) throw e;
      error = e.message;
    }
    const check = value === undefined ? `(${expr}) == 0 || true` : `(${expr}) == (${render(value)})`;
    const answer = isAuthorized({ ...req, policies: { staticPolicies: { x: `permit(principal, action, resource) when { ${check} };` } } } as never);
    assert.equal(answer.type, 'success', `cedar refused (seed ${seed}): ${JSON.stringify(answer)}`);
    if (answer.type !== 'success') continue;
    const cedarErr = answer.response.diagnostics.errors[0]?.error.message;
    const detail = `seed ${seed} (replay: POLICY_VALUES_SEED=${seed} POLICY_VALUES_COUNT=1)\nexpr: ${expr}\ncompiled: ${error ?? render(value as Value)}\ncedar: ${cedarErr ?? answer.response.decision}\nrequest: ${JSON.stringify(req)}`;
    if (error !== undefined) {
      assert.ok(cedarErr !== undefined, `compiled code errored, Cedar did not: ${detail}`);
      counts.errors++;
    } else {
      assert.ok(cedarErr === undefined && answer.response.decision === 'allow', `values differ: ${detail}`);
      counts.values++;
      counts.byType[type] = (counts.byType[type] ?? 0) + 1;
    }
  }
  console.log(`expression values: ${JSON.stringify(counts)}`);
  assert.ok(counts.values > COUNT * 0.3, JSON.stringify(counts));
});
