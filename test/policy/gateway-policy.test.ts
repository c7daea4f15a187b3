/**
 * The gateway's policy: the schema it validates against, the approval set, reasons, arguments on their way
 * in (normalised paths, undeclared ones left out, mistyped ones denied), and list visibility.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadGatewayPolicy, PolicyInputError, PolicyLoadError, type CallContext, type Subject, type Target } from '../../src/policy/index.js';

const POLICIES = `
@id("read-own") @reason("read tools of your own tenant")
permit (principal is Agent, action == Action::"call_tool", resource is Tool)
when { principal has tenant && resource has tenant && principal.tenant == resource.tenant && resource.access == "read" };

@id("a-writes-own-dir")
permit (principal == Agent::"agent-a", action == Action::"call_tool", resource == Tool::"files__write_file")
when { context.listing || (context.arguments has path && context.arguments.path like "/data/agent-a/*") };

@id("list-own") permit (principal, action == Action::"list", resource is Server) when { principal has tenant && resource has tenant && principal.tenant == resource.tenant };

@id("prod-destructive") @approval @reason("destructive tools in prod need a human")
permit (principal, action == Action::"call_tool", resource is Tool) when { resource.destructive && resource.environment == "prod" };

@id("too-deep") forbid (principal, action, resource) when { context.delegation.depth > 2 };
`;

const policy = loadGatewayPolicy({ sources: [{ name: 'p.cedar', text: POLICIES }] });
const agentA: Subject = { agent: 'agent-a', user: 'alice', tenant: 'acme', chain: [], groups: [], authMethod: 'oauth-jwt', scopes: [] };
const files = { name: 'files', environment: 'prod' as const, tenant: 'acme', trustAnnotations: true, dataClasses: [] };
const tool = (name: string, over: Partial<{ access: 'read' | 'write'; destructive: boolean }> = {}, server = files): Target => ({
  kind: 'tool',
  server,
  id: `files__${name}`,
  name,
  class: { access: 'read', destructive: false, openWorld: false, risk: 'low', dataClasses: [], ...over },
});
const ctx = (args?: Record<string, unknown>, over: Partial<CallContext> = {}): CallContext => ({
  arguments: args,
  approval: 'none',
  now: new Date('2026-11-22T10:00:00Z'),
  client: { transport: 'http', name: 'test', protocolVersion: '2025-11-25' },
  callsPerMinute: 1,
  ...over,
});
const write = tool('write_file', { access: 'write', destructive: true });
const decideWrite = (path: unknown, over: Partial<CallContext> = {}) => policy.decide('call_tool', agentA, write, ctx(policy.readArguments({ path, content: 'x' }).decided, over));

describe('decisions', () => {
  test('allow names the permit and its reason; the version is a short hash', () => {
    const d = policy.decide('call_tool', agentA, tool('read_file'), ctx({}));
    assert.deepEqual([d.effect, d.policyIds, d.reason], ['allow', ['read-own'], 'read tools of your own tenant']);
    assert.match(d.version, /^[0-9a-f]{16}$/);
  });

  test('deny by default says who may not do what; another tenant is not permitted', () => {
    const d = policy.decide('call_tool', { ...agentA, tenant: 'globex' }, tool('read_file'), ctx({}));
    assert.deepEqual([d.effect, d.policyIds], ['deny', []]);
    assert.equal(d.reason, 'no policy permits agent-a to call_tool files__read_file');
  });

  test('a forbid wins over a permit and is named', () => {
    const d = policy.decide('call_tool', { ...agentA, chain: ['b', 'c', 'd'] }, tool('read_file'), ctx({}));
    assert.deepEqual([d.effect, d.policyIds], ['deny', ['too-deep']]);
  });

  test('an @approval permit turns an allowed call into needs-approval, and grants nothing by itself', () => {
    const d = decideWrite('/data/agent-a/notes.txt');
    assert.deepEqual([d.effect, d.policyIds, d.reason], ['needs-approval', ['prod-destructive'], 'destructive tools in prod need a human']);
    assert.equal(decideWrite('/data/agent-a/notes.txt', { approval: 'approved' }).effect, 'allow');
    // Matches the approval policy but no ordinary permit: still a deny.
    assert.equal(policy.decide('call_tool', { ...agentA, agent: 'agent-b' }, write, ctx({ path: '/data/agent-a/x' })).effect, 'deny');
  });

  test('@approval on a forbid is refused at load', () => {
    assert.throws(
      () => loadGatewayPolicy({ sources: [{ name: 'bad.cedar', text: '@approval forbid (principal, action, resource);' }] }),
      (e: unknown) => e instanceof PolicyLoadError && /cannot be used on a forbid/.test(e.message) && e.problems[0]?.location === 'bad.cedar:1:1',
    );
  });

  test('a policy reading an undeclared argument can never apply, so it is refused with its location', () => {
    for (const text of [
      'forbid (principal, action, resource) when { context.arguments has mode && context.arguments.mode == 1 };',
      'permit (principal, action, resource) when { context.arguments.mode == 1 };',
    ]) {
      assert.throws(
        () => loadGatewayPolicy({ sources: [{ name: 'args.cedar', text }] }),
        (e: unknown) => e instanceof PolicyLoadError && e.code === 'policy_invalid' && /args\.cedar:1:/.test(e.message),
      );
    }
    const declared = loadGatewayPolicy({ sources: [{ name: 'a.cedar', text: 'permit (principal, action, resource) when { context.arguments has mode && context.arguments.mode == 1 };' }], arguments: { mode: 'Long' } });
    assert.equal(declared.decide('call_tool', agentA, tool('x'), ctx(declared.readArguments({ mode: 1 }).decided)).effect, 'allow');
    assert.equal(declared.decide('call_tool', agentA, tool('x'), ctx(declared.readArguments({ mode: 2 }).decided)).effect, 'deny');
  });

  test('no policies: everything is denied', () => {
    const empty = loadGatewayPolicy({ sources: [] });
    assert.equal(empty.decide('call_tool', agentA, tool('read_file'), ctx({})).effect, 'deny');
    assert.deepEqual(empty.visible('call_tool', agentA, [tool('read_file')], ctx()), [false]);
  });
});

describe('arguments', () => {
  test('paths are normalised before the decision, so ../ cannot escape the allowed directory', () => {
    assert.equal(decideWrite('/data/agent-a/x', { approval: 'approved' }).effect, 'allow');
    assert.equal(decideWrite('/data/agent-a/../agent-b/x', { approval: 'approved' }).effect, 'deny');
    assert.equal(decideWrite('/data/agent-a/sub/../../agent-b', { approval: 'approved' }).effect, 'deny');
    assert.equal(decideWrite('/data/agent-a/./sub//y', { approval: 'approved' }).effect, 'allow');
    assert.equal(decideWrite('data/agent-a/x', { approval: 'approved' }).effect, 'deny');
  });

  test('what is forwarded is what was decided', () => {
    const { forwarded, decided, paths } = policy.readArguments({ path: '/data/agent-a/./x/../y', paths: ['/a/../b', 'c'], content: '/keep/../as/is' });
    assert.deepEqual(forwarded, { path: '/data/agent-a/y', paths: ['/b', 'c'], content: '/keep/../as/is' });
    assert.deepEqual(decided, { path: '/data/agent-a/y', paths: ['/b', 'c'] });
    assert.deepEqual(paths, ['/data/agent-a/y', '/b', 'c']);
  });

  test('relative paths resolve against the first root; NFC; nested path arguments; climbing out without a root is refused', () => {
    const roots = ['/data'];
    const read = (args: Record<string, unknown>) => policy.readArguments(args, roots);
    assert.deepEqual(read({ path: 'secret/s.txt' }).forwarded, { path: '/data/secret/s.txt' });
    assert.deepEqual(read({ path: 'pub/../secret/s.txt' }).forwarded, { path: '/data/secret/s.txt' });
    assert.deepEqual(read({ path: '../etc/passwd' }).forwarded, { path: '/etc/passwd' }, 'resolved, then decided as the absolute path it is');
    assert.deepEqual(read({ path: '/data/secret/' }).forwarded, { path: '/data/secret' });
    assert.deepEqual(read({ path: '/data/cafe\u0301' }).forwarded, { path: '/data/caf\u00e9' }, 'NFC');
    const nested = read({ edits: [{ path: 'a.txt', oldText: '../x' }], files: { source: ['x/../b'], destination: '/c/./d' }, paths: [] });
    assert.deepEqual(nested.forwarded, { edits: [{ path: '/data/a.txt', oldText: '../x' }], files: { source: ['/data/b'], destination: '/c/d' }, paths: [] });
    assert.deepEqual(nested.paths, ['/data/a.txt', '/data/b', '/c/d']);
    assert.deepEqual(policy.readArguments({ path: 'a/./b' }).forwarded, { path: 'a/b' }, 'no roots: stays relative');
    assert.throws(() => policy.readArguments({ path: 'a/../../b' }), /climb/);
    const proto = policy.readArguments(JSON.parse('{"x": {"__proto__": {"path": "/a/../b"}}}') as Record<string, unknown>);
    assert.equal(Object.getPrototypeOf(proto.forwarded.x), Object.prototype, 'a __proto__ key stays data');
    let deep: Record<string, unknown> = { path: '/x' };
    for (let i = 0; i < 70; i++) deep = { d: deep };
    assert.throws(() => policy.readArguments(deep), /nested too deeply/);
  });

  test('every path of a call is decided on its own as `path`: any forbidden one denies the whole call', () => {
    const text = `${POLICIES}
@id("no-secret") forbid (principal, action, resource) when { context.arguments has path && context.arguments.path like "/data/secret/*" };
@id("approve-shared") @approval permit (principal, action, resource) when { context.arguments has path && context.arguments.path like "/data/shared/*" };`;
    const p = loadGatewayPolicy({ sources: [{ name: 'p.cedar', text }] });
    const read = tool('read_multiple_files');
    const decide = (args: Record<string, unknown>) => {
      const { arguments: _a, ...c } = ctx();
      return p.decideArguments('call_tool', agentA, read, c, p.readArguments(args, ['/data']));
    };
    assert.equal(decide({ paths: ['pub/a.txt', 'pub/b.txt'] }).effect, 'allow');
    const d = decide({ paths: ['pub/a.txt', 'pub/../secret/s.txt'] });
    assert.deepEqual([d.effect, d.policyIds], ['deny', ['no-secret']]);
    assert.equal(decide({ source: 'pub/a', destination: 'secret/b' }).effect, 'deny', 'source and destination are each a path');
    assert.equal(decide({ edits: [{ path: 'secret/x' }] }).effect, 'deny', 'a nested path too');
    assert.equal(decide({ paths: ['pub/a', 'shared/b'] }).effect, 'needs-approval');
    assert.equal(decide({ paths: ['shared/b', 'secret/c'] }).effect, 'deny', 'deny wins over approval');
    assert.equal(decide({ path: ['secret/x'] }).effect, 'deny', 'a path of the wrong type is still a schema deny');
  });

  test('a declared argument of the wrong type denies the call with the path of the mismatch', () => {
    const d = decideWrite(['/data/agent-a/x'], { approval: 'approved' });
    assert.equal(d.effect, 'deny');
    assert.match(d.reason, /context\.arguments\.path/);
    assert.doesNotMatch(d.reason, /agent-a\/x/, 'the reason names the argument, not its value');
  });

  test('arguments that are not an object, or hold a NUL byte in a path, are refused', () => {
    assert.throws(() => policy.readArguments(['x']), PolicyInputError);
    assert.throws(() => policy.readArguments({ path: '/data/agent-a/x\0.txt' }), /NUL/);
    assert.deepEqual(policy.readArguments(undefined), { forwarded: {}, decided: {}, paths: [] });
  });
});

describe('lists', () => {
  test('visibility: listing ignores argument conditions; another tenant sees nothing', () => {
    const tools = [tool('read_file'), write];
    assert.deepEqual(policy.visible('call_tool', agentA, tools, ctx()), [true, true]);
    assert.deepEqual(policy.visible('call_tool', { ...agentA, agent: 'agent-b' }, tools, ctx()), [true, false]);
    assert.deepEqual(policy.visible('call_tool', { ...agentA, agent: 'agent-c', tenant: 'globex' }, tools, ctx()), [false, false]);
    const server: Target = { kind: 'server', server: files };
    assert.deepEqual(policy.visible('list', agentA, [server], ctx()), [true]);
    assert.deepEqual(policy.visible('list', { ...agentA, tenant: null }, [server], ctx()), [false]);
  });
});
