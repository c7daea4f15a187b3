/**
 * Fuzz: building Cedar input from what a request carries. A call's arguments (any JSON, typed by the
 * schema: strings, longs, sets, records, extension types, paths) and the caller's identity (any strings)
 * go through readArguments and decide; raw Cedar JSON values and entity lists through the schema-less
 * readers. Each must give a decision (a malformed input is a deny that names no value) or a
 * PolicyInputError, in bounded time; nothing else may be thrown.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalPathArguments } from '../../src/policy/arguments.js';
import { loadGatewayPolicy, PolicyInputError, type CallContext, type Subject, type Target } from '../../src/policy/index.js';
import { buildStore, jsonToValue, type EntityJson } from '../../src/policy/input.js';
import { BOUND_MS, expectOnly, fuzzParams, within } from './fuzz.js';

const ARGUMENTS = { path: 'String', paths: 'Set<String>', count: 'Long', from: 'ipaddr', at: 'datetime', price: 'decimal', opts: '{ depth?: Long, tags?: Set<String>, owner?: String }' };
const POLICIES = `
@id("reads") permit (principal, action == Action::"call_tool", resource is Tool) when { resource.access == "read" };
@id("own-dir") permit (principal, action == Action::"call_tool", resource is Tool)
  when { context.arguments has path && context.arguments.path like "/data/*" && !(context.arguments.path like "*..*") };
@id("small") forbid (principal, action, resource) when { context.arguments has count && context.arguments.count > 1000 };
@id("lan") forbid (principal, action, resource) when { context.arguments has from && !context.arguments.from.isInRange(ip("10.0.0.0/8")) };
@id("tags") @approval permit (principal, action == Action::"call_tool", resource is Tool)
  when { context.arguments has opts && context.arguments.opts has tags && context.arguments.opts.tags.contains("prod") };
`;
/** As a request delivers it: JSON text parsed (ordinary objects, no `undefined`). */
const asJson = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T> => a.map((v) => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T)));
const policy = loadGatewayPolicy({ sources: [{ name: 'fuzz.cedar', text: POLICIES }], arguments: ARGUMENTS, pathArguments: ['path', 'paths'] });

/** Strings that are hard on a reader: empty, NUL, lone surrogates, dot segments, huge. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', '\0', '\ud800', 'a\udfffb', '/data/../etc/passwd', '/data/./x//y/', '..', '10.1.2.3', '::1', '2026-11-22T10:00:00Z', '1.5', 'x'.repeat(5000)),
);
const anyArg = fc.oneof(nasty, fc.jsonValue({ maxDepth: 5 }), fc.array(nasty, { maxLength: 5 }), fc.integer(), fc.double(), fc.constantFrom(2 ** 53, -(2 ** 63), Number.MAX_VALUE));
const args = asJson(fc.oneof(
  fc.record(
    {
      path: anyArg,
      paths: anyArg,
      count: anyArg,
      from: anyArg,
      at: anyArg,
      price: anyArg,
      opts: fc.oneof(anyArg, fc.record({ depth: anyArg, tags: anyArg, owner: anyArg, extra: anyArg }, { requiredKeys: [] })),
      undeclared: anyArg,
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 4 }),
));
const subject = fc.record({
  agent: nasty.filter((s) => s.length > 0),
  user: fc.option(nasty, { nil: null }),
  tenant: fc.option(nasty, { nil: null }),
  chain: fc.array(nasty, { maxLength: 4 }),
  groups: fc.array(nasty, { maxLength: 4 }),
  authMethod: fc.constantFrom('oauth-jwt', 'none', 'mtls'),
  scopes: fc.array(nasty, { maxLength: 4 }),
}) as fc.Arbitrary<Subject>;
const server = { name: 'files', environment: 'prod' as const, tenant: 'acme', trustAnnotations: true, dataClasses: [] };
const target = fc.record({ name: nasty.filter((s) => s.length > 0), access: fc.constantFrom('read', 'write', 'execute') }).map(
  ({ name, access }): Target => ({ kind: 'tool', server, id: `files__${name}`, name, class: { access, destructive: access !== 'read', openWorld: false, risk: 'low', dataClasses: [] } }),
);
const ctx = (a: Record<string, unknown> | undefined): CallContext => ({
  arguments: a,
  approval: 'none',
  now: new Date('2026-11-22T10:00:00Z'),
  client: { transport: 'http', name: 'fuzz', protocolVersion: '2025-11-25' },
  callsPerMinute: 1,
});

describe('fuzz: Cedar input building', () => {
  test('any arguments and any caller: a decision, or a PolicyInputError for arguments that are not an object', () => {
    fc.assert(
      fc.property(args, subject, target, (a, s, t) => {
        const read = within(BOUND_MS, () => policy.readArguments(a, ['/data']));
        // Refused outright (PolicyInputError, with a message): not an object, a NUL in a path, a path that
        // climbs out of the roots, nesting too deep. Anything else thrown is a crash.
        expectOnly(read.error, PolicyInputError);
        if (read.error) return;
        const { value: d, error } = within(BOUND_MS, () => policy.decideArguments('call_tool', s, t, ctx(read.value!.decided), read.value!));
        if (error) throw error;
        assert.ok(['allow', 'deny', 'needs-approval'].includes(d!.effect));
        assert.ok(d!.reason.length > 0);
        // A refused value is named by its path and type, never quoted.
        if (d!.reason.startsWith('the request does not fit')) assert.doesNotMatch(d!.reason, /x{50}|passwd|\ud800/);
      }),
      fuzzParams(500),
    );
  });

  test('path arguments are made canonical once and for all (doing it again changes nothing)', () => {
    const names = new Set(['path', 'paths']);
    fc.assert(
      fc.property(asJson(fc.record({ path: anyArg, paths: anyArg }, { requiredKeys: [] })), (a) => {
        const once = within(BOUND_MS, () => canonicalPathArguments(a, names, ['/data']));
        expectOnly(once.error, PolicyInputError);
        if (once.value) assert.deepEqual(canonicalPathArguments(once.value.args, names, ['/data']).args, once.value.args);
      }),
      fuzzParams(500),
    );
  });

  test('schema-less readers: any JSON value or entity list is read or refused with a PolicyInputError', () => {
    const uid = fc.record({ type: fc.oneof(fc.constantFrom('User', 'Agent', 'A::B', 'if', '', '1x'), nasty), id: nasty });
    const entity = fc.record({
      uid: fc.oneof(uid, fc.jsonValue({ maxDepth: 2 })),
      attrs: fc.oneof(fc.dictionary(nasty, fc.oneof(anyArg, fc.record({ __entity: uid }), fc.record({ __extn: fc.record({ fn: fc.constantFrom('ip', 'decimal', 'nope'), arg: anyArg }) }))), fc.jsonValue({ maxDepth: 2 })),
      parents: fc.oneof(fc.array(uid, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })),
    });
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), asJson(fc.array(entity, { maxLength: 5 })), (v, entities) => {
        expectOnly(within(BOUND_MS, () => jsonToValue(v, 'context')).error, PolicyInputError);
        expectOnly(within(BOUND_MS, () => buildStore(entities as unknown as EntityJson[])).error, PolicyInputError);
      }),
      fuzzParams(500),
    );
  });
});
