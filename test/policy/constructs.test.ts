/**
 * Hand-written cases, one or more per Cedar construct and for Cedar's authorization edge cases. Each case
 * states the expected outcome and is also checked against cedar-wasm, so the expectation and Cedar agree.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadUnvalidated, type DecisionRequest } from '../../src/policy/engine.js';
import { CedarOracle, engineOutcome, type Outcome } from './gen/oracle.js';

const alice = { type: 'User', id: 'alice' };
const ENTITIES = [
  { uid: alice, attrs: { name: 'alice', age: 30, profile: { level: 3, address: { city: 'Oslo' } }, roles: ['read', 'write'], mgr: { __entity: { type: 'User', id: 'bob' } } }, parents: [{ type: 'Group', id: 'eng' }], tags: { env: 'prod' } },
  { uid: { type: 'Group', id: 'eng' }, attrs: {}, parents: [{ type: 'Group', id: 'all' }] },
  { uid: { type: 'Group', id: 'all' }, attrs: {}, parents: [] },
  { uid: { type: 'Tool', id: 't' }, attrs: { risk: 2, path: 'a*b' }, parents: [] },
  { uid: { type: 'Action', id: 'call' }, attrs: {}, parents: [{ type: 'Action', id: 'write' }] },
  { uid: { type: 'Action', id: 'write' }, attrs: {}, parents: [] },
];
const CONTEXT = {
  s: 'a*b',
  big: Number.MAX_SAFE_INTEGER,
  args: { path: '/data/x' },
  src: { __extn: { fn: 'ip', arg: '10.1.2.3' } },
  when: { __extn: { fn: 'datetime', arg: '1969-12-31T12:00:00Z' } },
  amount: { __extn: { fn: 'decimal', arg: '1.50' } },
  set: [1, 'a', { __entity: { type: 'Group', id: 'all' } }],
};

interface Case {
  name: string;
  /** Conditions of one permit policy "x", or whole policies (each with an @id). */
  when?: string;
  policies?: string[];
  request?: Partial<DecisionRequest>;
  expect: 'allow' | 'deny' | 'error' | Outcome;
}

const permitWhen = (cond: string): string => `@id("x") permit(principal, action, resource) when { ${cond} };`;

const CASES: Case[] = [
  // Authorization rules
  { name: 'default deny with no policies', policies: [], expect: 'deny' },
  { name: 'forbid overrides permit', policies: ['@id("p") permit(principal, action, resource);', '@id("f") forbid(principal, action, resource);'], expect: { kind: 'decision', decision: 'deny', reasons: ['f'], errors: [] } },
  { name: 'an erroring forbid is skipped', policies: ['@id("p") permit(principal, action, resource);', '@id("f") forbid(principal, action, resource) when { principal.nope };'], expect: { kind: 'decision', decision: 'allow', reasons: ['p'], errors: ['f'] } },
  { name: 'an erroring permit is skipped, others still decide', policies: ['@id("bad") permit(principal, action, resource) when { 1 + "a" == 2 };', '@id("ok") permit(principal, action, resource);'], expect: { kind: 'decision', decision: 'allow', reasons: ['ok'], errors: ['bad'] } },
  { name: 'every satisfied forbid is a reason', policies: ['@id("f1") forbid(principal, action, resource);', '@id("f2") forbid(principal in Group::"all", action, resource);', '@id("p") permit(principal, action, resource);'], expect: { kind: 'decision', decision: 'deny', reasons: ['f1', 'f2'], errors: [] } },
  { name: 'positional ids without @id', policies: ['permit(principal, action, resource) when { false };', 'permit(principal, action, resource);'], expect: { kind: 'decision', decision: 'allow', reasons: ['case.cedar:1'], errors: [] } },
  { name: 'unless', policies: ['@id("x") permit(principal, action, resource) unless { principal.age > 40 };'], expect: 'allow' },
  { name: 'two clauses, first false short-circuits the second', policies: ['@id("x") permit(principal, action, resource) when { false } when { principal.nope };'], expect: 'deny' },
  { name: 'non-bool condition is an error', when: '1', expect: 'error' },
  // Scope
  { name: 'principal in (transitive)', policies: ['@id("x") permit(principal in Group::"all", action, resource);'], expect: 'allow' },
  { name: 'principal is T in', policies: ['@id("x") permit(principal is User in Group::"eng", action, resource is Tool);'], expect: 'allow' },
  { name: 'principal is wrong type', policies: ['@id("x") permit(principal is Group, action, resource);'], expect: 'deny' },
  { name: 'action in group', policies: ['@id("x") permit(principal, action in Action::"write", resource);'], expect: 'allow' },
  { name: 'action == does not follow the hierarchy', policies: ['@id("x") permit(principal, action == Action::"write", resource);'], expect: 'deny' },
  { name: 'action in list', policies: ['@id("x") permit(principal, action in [Action::"read", Action::"write"], resource == Tool::"t");'], expect: 'allow' },
  // in / is
  { name: 'in on a set', when: 'principal in [Group::"x", Group::"all"]', expect: 'allow' },
  { name: 'in on a set with a non-entity is an error', when: 'principal in [Group::"all", 1]', expect: 'error' },
  { name: 'in on a missing entity is equality only', when: 'User::"ghost" in Group::"all" || User::"ghost" in User::"ghost"', expect: 'allow' },
  { name: 'in on a non-entity is an error', when: '1 in Group::"all"', expect: 'error' },
  { name: 'is in short-circuits', when: '!(principal is Tool in (1 + "x"))', expect: 'allow' },
  // has / attributes
  { name: 'has on nested records', when: 'principal has profile.address.city && !(principal has profile.email) && context has args.path', expect: 'allow' },
  { name: 'has through a non-record is an error', when: 'principal has name.first', expect: 'error' },
  { name: 'has on a missing entity is false', when: '!(User::"ghost" has name)', expect: 'allow' },
  { name: 'missing attribute is an error', when: 'principal.email == "x"', expect: 'error' },
  { name: 'attribute of a missing entity is an error', when: 'principal.mgr.name == "bob"', expect: 'error' },
  { name: 'attribute access on a long is an error', when: 'principal.age.x == 1', expect: 'error' },
  // like
  { name: 'like with an escaped star', when: 'context.s like "a\\*b" && !("axb" like "a\\*b")', expect: 'allow' },
  { name: 'like wildcard', when: '"axxb" like "a*b" && "" like "*" && "abab" like "*ab" && !("aba" like "*ab")', expect: 'allow' },
  { name: 'like overlapping segments', when: '"aXbXb" like "a*b*b" && !("ab" like "a*b*b") && "/data/agent-a/x" like "/data/agent-a/*"', expect: 'allow' },
  { name: 'like on a non-string is an error', when: '1 like "*"', expect: 'error' },
  // equality, arithmetic, logic
  { name: 'equality is type-strict and structural', when: '1 != "1" && [1, 2] == [2, 1, 1] && {a: 1, b: [true]} == {b: [true], a: 1} && principal != {a: 1}', expect: 'allow' },
  { name: 'entity equality by uid', when: 'principal.mgr == User::"bob"', expect: 'allow' },
  { name: 'long overflow is an error', when: '9007199254740991 * 9007199254740991 > 0', expect: 'error' },
  { name: 'arithmetic beyond 2^53 is exact', when: '(context.big + 2) - 2 == context.big && context.big * 1024 > context.big', expect: 'allow' },
  { name: 'subtraction overflow is an error', when: '(0 - 9007199254740991) * 9007199254740991 * 1024 < 0', expect: 'error' },
  { name: 'comparison of strings is an error', when: '"a" < "b"', expect: 'error' },
  { name: '&& short-circuits', when: '!(false && (1 + "a" == 1))', expect: 'allow' },
  { name: '|| short-circuits', when: 'true || (1 + "a" == 1)', expect: 'allow' },
  { name: '&& with a non-bool left operand is an error', when: '(1 && true) == true', expect: 'error' },
  { name: '|| with a non-bool right operand is an error', when: '(false || 1) == 1', expect: 'error' },
  { name: 'if-then-else', when: '(if principal.age > 18 then "adult" else 1) == "adult"', expect: 'allow' },
  { name: 'if with a non-bool condition is an error', when: '(if 1 then true else false)', expect: 'error' },
  // sets, records, tags
  { name: 'set operations', when: 'principal.roles.contains("read") && principal.roles.containsAll(["write"]) && principal.roles.containsAny(["x", "write"]) && ![].isEmpty() == false', expect: 'allow' },
  { name: 'contains on a non-set is an error', when: '"abc".contains("a")', expect: 'error' },
  { name: 'mixed set contains an entity', when: 'context.set.contains(Group::"all") && context.set.contains(1)', expect: 'allow' },
  { name: 'tags', when: 'principal.hasTag("env") && principal.getTag("env") == "prod" && !principal.hasTag("x")', expect: 'allow' },
  { name: 'missing tag is an error', when: 'principal.getTag("x") == 1', expect: 'error' },
  // extensions
  { name: 'ip functions', when: 'context.src.isInRange(ip("10.0.0.0/8")) && context.src.isIpv4() && ip("::1").isLoopback() && ip("ff02::1").isMulticast() && !ip("127.0.0.1/7").isLoopback()', expect: 'allow' },
  { name: 'ip equality keeps host bits', when: 'ip("10.0.0.1/24") != ip("10.0.0.0/24") && ip("10.0.0.1") == ip("10.0.0.1/32")', expect: 'allow' },
  { name: 'bad ip literal is an error', when: 'ip("::ffff:1.2.3.4").isIpv6()', expect: 'error' },
  { name: 'decimal comparisons', when: 'context.amount.greaterThan(decimal("1.4999")) && decimal("-0.5").lessThan(decimal("0.0")) && decimal("1.5") == decimal("1.50")', expect: 'allow' },
  { name: '< on decimals is an error', when: 'decimal("1.0") < decimal("2.0")', expect: 'error' },
  { name: 'datetime and duration', when: 'context.when.toDate() == datetime("1969-12-31") && context.when.toTime() == duration("12h") && datetime("2024-01-01").offset(duration("-1d")) < datetime("2024-01-01") && datetime("2024-01-02").durationSince(datetime("2024-01-01")).toHours() == 24', expect: 'allow' },
  { name: 'datetime overflow is an error', when: 'datetime("2000-01-01").offset(duration("9223372036854775807ms")) > datetime("2000-01-01")', expect: 'error' },
];

function toOutcome(c: Case): Outcome {
  if (typeof c.expect === 'object') return c.expect;
  if (c.expect === 'error') return { kind: 'decision', decision: 'deny', reasons: [], errors: ['x'] };
  return { kind: 'decision', decision: c.expect, reasons: c.expect === 'allow' ? ['x'] : [], errors: [] };
}

describe('Cedar constructs and edge cases', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const texts = c.policies ?? [permitWhen(c.when as string)];
      const engine = loadUnvalidated([{ name: 'case.cedar', text: texts.join('\n') }]);
      const req: DecisionRequest = { principal: alice, action: { type: 'Action', id: 'call' }, resource: { type: 'Tool', id: 't' }, context: CONTEXT, entities: ENTITIES, ...c.request };
      const got = engineOutcome(engine, req);
      assert.deepEqual(got, toOutcome(c));
      const ids = engine.policies.map((p) => p.id);
      const oracle = new CedarOracle(Object.fromEntries(texts.map((t, i) => [ids[i], t])));
      assert.deepEqual(oracle.decide(req), got, 'cedar-wasm disagrees');
    });
  }
});

describe('malformed requests are refused, as cedar-wasm refuses them', () => {
  const base: DecisionRequest = { principal: alice, action: { type: 'Action', id: 'call' }, resource: { type: 'Tool', id: 't' }, context: {}, entities: [] };
  const bad: [string, Partial<DecisionRequest>][] = [
    ['null in context', { context: { a: null } }],
    ['fraction in context', { context: { a: 1.5 } }],
    ['unknown extension function', { context: { a: { __extn: { fn: 'nope', arg: 'x' } } } }],
    ['invalid extension value', { context: { a: { __extn: { fn: 'ip', arg: '1.2.3' } } } }],
    ['invalid entity type name', { principal: { type: 'bad type', id: 'x' } }],
    ['duplicate entity with different attributes', { entities: [{ uid: alice, attrs: { a: 1 }, parents: [] }, { uid: alice, attrs: { a: 2 }, parents: [] }] }],
    ['entity without parents', { entities: [{ uid: alice, attrs: {} } as never] }],
    ['tags that are not a record', { entities: [{ uid: alice, attrs: {}, parents: [], tags: null } as never] }],
    ['hierarchy cycle', { entities: [{ uid: { type: 'G', id: 'a' }, attrs: {}, parents: [{ type: 'G', id: 'b' }] }, { uid: { type: 'G', id: 'b' }, attrs: {}, parents: [{ type: 'G', id: 'a' }] }] }],
    ['self parent', { entities: [{ uid: { type: 'G', id: 'a' }, attrs: {}, parents: [{ type: 'G', id: 'a' }] }] }],
    ['entity without attrs', { entities: [{ uid: { type: 'G', id: 'a' }, parents: [] } as never] }],
  ];
  const engine = loadUnvalidated([{ name: 'm.cedar', text: '@id("p") permit(principal, action, resource);' }]);
  const oracle = new CedarOracle({ p: '@id("p") permit(principal, action, resource);' });
  for (const [name, patch] of bad) {
    test(name, () => {
      const req = { ...base, ...patch };
      assert.equal(oracle.decide(req).kind, 'refused', 'cedar-wasm accepts it');
      assert.equal(engineOutcome(engine, req).kind, 'refused');
    });
  }
  test('an exact repeat of an entity is accepted (parents in any order), as in Cedar', () => {
    const e = (parents: string[]) => ({ uid: alice, attrs: { a: [1, 2] }, parents: parents.map((id) => ({ type: 'G', id })) });
    const req = { ...base, entities: [e(['1', '2']), e(['2', '1'])] };
    assert.deepEqual(engineOutcome(engine, req), oracle.decide(req));
    assert.equal(engineOutcome(engine, req).kind, 'decision');
  });
});
