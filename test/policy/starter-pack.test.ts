/**
 * The starter policy pack (`warden init` copies it) and its tests: every case passes, and every policy in
 * the pack decides at least one passing case, so a policy added without a case fails the build.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { caseFilePolicy, loadCaseFile, runCases as runAll, type PolicyCase } from '../../src/policy/cases.js';
import { inGrant } from '../../src/tasks/index.js';

/** As `warden policy test` runs them: with the gateway's task-grant check. */
const runCases = (p: Parameters<typeof runAll>[0], cases: readonly PolicyCase[]) => runAll(p, cases, { inGrant });
const CASES = fileURLToPath(new URL('../../policies/starter/starter.test.yaml', import.meta.url));

describe('starter policy pack', () => {
  const file = loadCaseFile(CASES);
  const policy = caseFilePolicy(file);

  test('the case file names the pack, and the pack loads', () => {
    assert.deepEqual(file.policies, ['starter.cedar']);
    assert.ok(policy !== undefined && policy.policies.length > 0);
  });

  test('every case passes', () => {
    const failing = runCases(policy!, file.cases).filter((r) => !r.pass);
    assert.deepEqual(failing.map((r) => `${r.name}: ${r.failure}`), []);
  });

  test('every case names its determining policies, so a change of rule is noticed', () => {
    assert.deepEqual(file.cases.filter((c) => c.policies === undefined).map((c) => c.name), []);
  });

  test('every policy decides at least one passing case', () => {
    const covered = new Set(runCases(policy!, file.cases).filter((r) => r.pass).flatMap((r) => r.policyIds));
    const uncovered = policy!.policies.map((p) => p.id).filter((id) => !covered.has(id));
    assert.deepEqual(uncovered, [], `policies without a case in ${CASES}: ${uncovered.join(', ')}`);
  });

  test('every outcome is exercised: allow, deny by a forbid, deny by default, needs-approval', () => {
    const results = runCases(policy!, file.cases);
    const kinds = new Set(results.map((r) => (r.got === 'deny' ? (r.policyIds.length > 0 ? 'forbid' : 'default') : r.got)));
    assert.deepEqual([...kinds].sort(), ['allow', 'default', 'forbid', 'needs-approval']);
  });
});
