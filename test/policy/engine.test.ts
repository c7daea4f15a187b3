/**
 * The engine as the gateway will use it: loading (ids, annotations, locations), refusing invalid sets
 * with readable problems, reading requests against the schema, fallback to cedar-wasm, list filtering.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { schemaToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { formatProblem, loadPolicyEngine, PolicyInputError, PolicyLoadError, type DecisionRequest } from '../../src/policy/index.js';
import { CedarOracle, engineOutcome } from './gen/oracle.js';

const SCHEMA = `namespace Warden {
  entity Group in [Group];
  entity Agent in [Group] { tenant: String, src?: ipaddr };
  entity Tool { tenant: String, access: String, destructive: Bool, owner?: Agent };
  action access;
  action call_tool, list in [access] appliesTo { principal: [Agent], resource: [Tool], context: { depth: Long, args?: { path?: String } } };
}`;

const BASE = `@id("read-own-tenant")
permit(principal, action in Warden::Action::"access", resource)
when { principal.tenant == resource.tenant && resource.access == "read" };

@approval
@reason("destructive tools need a human")
permit(principal in Warden::Group::"ops", action == Warden::Action::"call_tool", resource)
when { resource.destructive };

forbid(principal, action, resource) when { context.depth > 2 };
`;

const agent = { type: 'Warden::Agent', id: 'a1' };
const tool = (id: string, attrs: Record<string, unknown>) => ({ uid: { type: 'Warden::Tool', id }, attrs: { tenant: 'acme', access: 'read', destructive: false, ...attrs }, parents: [] });
const request = (over: Partial<DecisionRequest> = {}): DecisionRequest => ({
  principal: agent,
  action: { type: 'Warden::Action', id: 'call_tool' },
  resource: { type: 'Warden::Tool', id: 'read' },
  context: { depth: 1 },
  entities: [
    { uid: agent, attrs: { tenant: 'acme', src: '10.0.0.7' }, parents: [{ type: 'Warden::Group', id: 'ops' }] },
    tool('read', {}),
    tool('wipe', { access: 'write', destructive: true }),
    tool('other', { tenant: 'globex' }),
  ],
  ...over,
});

const load = (text: string, name = 'base.cedar') => loadPolicyEngine({ schema: SCHEMA, sources: [{ name, text }] });

function loadError(fn: () => unknown): PolicyLoadError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PolicyLoadError, String(e));
    return e;
  }
  assert.fail('expected a PolicyLoadError');
}

describe('loading', () => {
  test('ids, annotations, locations; everything compiles', () => {
    const e = load(BASE);
    assert.deepEqual(
      e.policies.map((p) => [p.id, p.effect, p.location, p.fallback]),
      [
        ['read-own-tenant', 'permit', 'base.cedar:1:1', undefined],
        ['base.cedar:1', 'permit', 'base.cedar:5:1', undefined],
        ['base.cedar:2', 'forbid', 'base.cedar:10:1', undefined],
      ],
    );
    assert.deepEqual(e.policy('base.cedar:1')?.annotations, { approval: '', reason: 'destructive tools need a human' });
    assert.deepEqual(e.fallbacks, []);
    assert.equal(e.version, load(BASE).version);
    assert.notEqual(e.version, load(`${BASE}\n`).version);
  });

  test('positional ids follow the file order past ten policies', () => {
    const text = Array.from({ length: 12 }, (_, i) => `permit(principal, action, resource) when { context.depth == ${i} };`).join('\n');
    const e = load(text, 'many.cedar');
    assert.deepEqual(
      e.policies.map((p) => [p.id, p.location]),
      Array.from({ length: 12 }, (_, i) => [`many.cedar:${i}`, `many.cedar:${i + 1}:1`]),
    );
    const d = e.decide(request({ context: { depth: 11 } }));
    assert.deepEqual(d.reasons, ['many.cedar:11']);
  });

  test('a set that fails strict validation is refused with policy id, location and message', () => {
    const err = loadError(() => load(`${BASE}\n@id("bad")\npermit(principal, action, resource)\n  when { resource.tenant > 3 };`));
    assert.equal(err.code, 'policy_invalid');
    assert.equal(err.problems[0]?.policyId, 'bad');
    assert.match(err.problems[0]?.location ?? '', /^base\.cedar:14:10$/);
    assert.match(err.problems[0]?.message ?? '', /Long|String|type/);
    assert.match(err.message, /bad/);
    assert.match(formatProblem(err.problems[0] as never), /^base\.cedar:14:10: .*bad/);
  });

  test('a schema in JSON form works the same', () => {
    const json = schemaToJson(SCHEMA);
    assert.equal(json.type, 'success');
    if (json.type !== 'success') return;
    const e = loadPolicyEngine({ schema: json.json, sources: [{ name: 'base.cedar', text: BASE }] });
    assert.deepEqual(e.decide(request()), load(BASE).decide(request()));
  });

  test('unguarded optional attribute is refused (strict mode)', () => {
    const err = loadError(() => load('@id("opt") permit(principal, action, resource) when { resource.owner == principal };'));
    assert.equal(err.code, 'policy_invalid');
    assert.match(err.problems[0]?.message ?? '', /optional attribute/);
  });

  test('parse errors carry file:line:col', () => {
    const err = loadError(() => load('permit(principal, action, resource);\npermit(principal, action, resource) when { 1 + };', 'broken.cedar'));
    assert.equal(err.code, 'policy_parse');
    assert.match(err.problems[0]?.location ?? '', /^broken\.cedar:2:\d+$/);
  });

  test('duplicate ids, templates and a bad schema are refused', () => {
    assert.equal(loadError(() => load('@id("x") permit(principal, action, resource);\n@id("x") forbid(principal, action, resource);')).code, 'policy_duplicate_id');
    assert.equal(loadError(() => load('permit(principal == ?principal, action, resource);')).code, 'policy_unsupported');
    assert.equal(loadError(() => loadPolicyEngine({ schema: 'entity A {', sources: [] })).code, 'schema_invalid');
  });

  test('a policy the compiler cannot express falls back to cedar-wasm and is reported', () => {
    const e = load(`${BASE}\n@id("huge") forbid(principal, action, resource) when { context.depth == 9223372036854775807 };`);
    assert.deepEqual(
      e.fallbacks.map((p) => p.id),
      ['huge'],
    );
    assert.match(e.policy('huge')?.fallback ?? '', /integer/);
    assert.deepEqual(e.decide(request()).reasons, ['read-own-tenant']);
  });
});

describe('decisions with the schema', () => {
  const e = load(BASE);
  const oracle = new CedarOracle(
    {
      'read-own-tenant': BASE.split('\n\n')[0] as string,
      'base.cedar:1': BASE.split('\n\n')[1] as string,
      'base.cedar:2': BASE.split('\n\n')[2] as string,
    },
    CedarOracle.schema('engine-test-schema', SCHEMA),
  );
  const cases: [string, DecisionRequest, string, string[]][] = [
    ['read tool in own tenant (action group in a namespace)', request(), 'allow', ['read-own-tenant']],
    ['destructive tool, member of ops', request({ resource: { type: 'Warden::Tool', id: 'wipe' } }), 'allow', ['base.cedar:1']],
    ['other tenant', request({ resource: { type: 'Warden::Tool', id: 'other' } }), 'deny', []],
    ['delegation too deep', request({ context: { depth: 3 } }), 'deny', ['base.cedar:2']],
  ];
  for (const [name, req, decision, reasons] of cases) {
    test(name, () => {
      const d = e.decide(req);
      assert.equal(d.decision, decision);
      assert.deepEqual(d.reasons, reasons);
      assert.deepEqual(engineOutcome(e, req), oracle.decide(req));
    });
  }

  const refused: [string, Partial<DecisionRequest>][] = [
    ['principal type not in appliesTo', { principal: { type: 'Warden::Group', id: 'ops' } }],
    ['undeclared action', { action: { type: 'Warden::Action', id: 'access' } }],
    ['context missing a required attribute', { context: {} }],
    ['context attribute of the wrong type', { context: { depth: '1' } }],
    ['undeclared context attribute', { context: { depth: 1, extra: true } }],
    ['entity attribute not in the schema', { entities: [{ uid: agent, attrs: { tenant: 'acme', x: 1 }, parents: [] }] }],
    ['entity missing a required attribute', { entities: [{ uid: agent, attrs: {}, parents: [] }] }],
    ['entity without parents', { entities: [{ uid: agent, attrs: { tenant: 'acme' } } as never] }],
    ['parent of a type the schema does not allow', { entities: [{ uid: agent, attrs: { tenant: 'acme' }, parents: [{ type: 'Warden::Tool', id: 'read' }] }] }],
    ['entity of an undeclared type', { entities: [{ uid: { type: 'Warden::Nope', id: 'x' }, attrs: {}, parents: [] }] }],
    ['invalid ipaddr string', { entities: [{ uid: agent, attrs: { tenant: 'acme', src: '10.0.0' }, parents: [] }] }],
  ];
  for (const [name, patch] of refused) {
    test(`refused: ${name}`, () => {
      const req = request(patch);
      assert.throws(() => e.decide(req), PolicyInputError);
      assert.equal(oracle.decide(req).kind, 'refused', 'cedar-wasm accepts it');
    });
  }

  test('extension values and entity refs may be given in their schema-directed forms', () => {
    const e2 = load('@id("net") permit(principal, action, resource) when { principal has src && principal.src.isInRange(ip("10.0.0.0/8")) && resource has owner && resource.owner == principal };');
    const o2 = new CedarOracle({ net: '@id("net") permit(principal, action, resource) when { principal has src && principal.src.isInRange(ip("10.0.0.0/8")) && resource has owner && resource.owner == principal };' }, 'engine-test-schema');
    const req = request({ entities: [{ uid: agent, attrs: { tenant: 'acme', src: '10.0.0.7' }, parents: [] }, tool('read', { owner: { type: 'Warden::Agent', id: 'a1' } })] });
    assert.deepEqual(e2.decide(req).reasons, ['net']);
    assert.deepEqual(engineOutcome(e2, req), o2.decide(req));
  });

  test('decideEach equals one decide per resource', () => {
    const req = request();
    const ids = ['read', 'wipe', 'other', 'missing'];
    const batch = e.decideEach(req, ids.map((id) => ({ type: 'Warden::Tool', id })));
    assert.deepEqual(
      batch,
      ids.map((id) => e.decide({ ...req, resource: { type: 'Warden::Tool', id } })),
    );
    assert.deepEqual(
      batch.map((d) => d.decision),
      ['allow', 'allow', 'deny', 'deny'],
    );
  });
});
