/**
 * Policy test cases: the format is checked strictly with problems located in the file, cases decide through
 * the gateway's own path (arguments normalised and projected, defaults of an unvouched tool), and a case
 * fails when the effect, the determining policies or the list filter disagree with it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CaseFileError, caseFilePolicy, evaluate, loadCaseFile, parseCaseFile, parseRequest, runCases, type CaseFile } from '../../src/policy/cases.js';
import { loadGatewayPolicy } from '../../src/policy/index.js';
import { inGrant } from '../../src/tasks/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-cases-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const POLICY = `@id("read-own")
@reason("reads in your tenant")
permit (principal is Agent, action == Action::"call_tool", resource is Tool)
when { principal has tenant && resource has tenant && principal.tenant == resource.tenant && resource.access == "read" };

@id("no-secrets")
@reason("the secret directory is off limits")
forbid (principal, action, resource)
when { context.arguments has path && context.arguments.path like "/data/secret/*" };

@id("untrusted-writes")
permit (principal, action == Action::"call_tool", resource is Tool)
when { resource.access == "write" && resource.destructive && resource.openWorld && resource.risk == "high" && resource.upstreamName == "write_file" };

@id("approve-writes")
@approval
@reason("writes need a human")
permit (principal, action == Action::"call_tool", resource is Tool) when { resource.access == "write" };
`;
const policy = loadGatewayPolicy({ sources: [{ name: 'test.cedar', text: POLICY }] });

const read = (extra = '') => `principal: { agent: a, tenant: acme }
    action: call_tool
    resource: { tool: files__read_file, server: { name: files, tenant: acme }, access: read, destructive: false }${extra}`;

const file = (cases: string, head = ''): CaseFile => parseCaseFile(`${head}cases:\n${cases}`, 'cases.yaml');
const problems = (text: string): string[] => {
  try {
    parseCaseFile(text, 'bad.yaml');
  } catch (err) {
    assert.ok(err instanceof CaseFileError, String(err));
    return [...err.problems];
  }
  assert.fail('the case file was accepted');
};

describe('case files: parsing', () => {
  test('a YAML syntax error names file, line and column', () => {
    const p = problems('cases:\n  - name: x\n    expect: [allow\n');
    assert.ok(p.length >= 1);
    assert.match(p[0]!, /^bad\.yaml:[34]:\d+: /);
  });

  test('an unknown key names the case by index and name, at its line', () => {
    const p = problems(`cases:\n  - name: first\n    ${read()}\n    expect: allow\n  - name: second\n    ${read()}\n    expct: allow\n`);
    assert.ok(p.some((m) => /^bad\.yaml:11:5: cases\[1\] "second": .*expct/.test(m)), p.join('\n'));
    assert.ok(p.some((m) => /cases\[1\] "second": expect: required/.test(m)), `the missing expect is reported too: ${p.join('\n')}`);
  });

  test('a wrong value names its path and line', () => {
    const p = problems(`cases:\n  - name: x\n    ${read()}\n    expect: permit\n`);
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^bad\.yaml:6:13: cases\[0\] "x": expect: /);
  });

  test('cross-field rules: resource kind per action, one item, tool-only classification, listing without arguments', () => {
    const base = (resource: string, action = 'call_tool', context = '') =>
      problems(`cases:\n  - name: x\n    principal: { agent: a }\n    action: ${action}\n    resource: ${resource}\n${context}    expect: deny\n`).join('\n');
    assert.match(base('{ server: { name: s } }'), /call_tool takes resource\.tool/);
    assert.match(base('{ tool: s__t, prompt: s__p, server: { name: s } }'), /at most one of tool, prompt, uri \(got tool, prompt\)/);
    assert.match(base('{ prompt: s__p, access: read, server: { name: s } }', 'get_prompt'), /resource\.access: a classification applies to tools only/);
    assert.match(base('{ tool: s__t, server: { name: s } }', 'list'), /list takes none of tool\/prompt\/uri/);
    assert.match(base('{ tool: s__t, server: { name: s } }', 'call_tool', '    context: { listing: true, arguments: { path: /x } }\n'), /context\.arguments: a listing is decided without arguments/);
    assert.match(base('{ tool: s__t, server: { name: s, environment: production } }'), /resource\.server\.environment: /);
  });

  test('file-level rules: cases required, arguments only with policies', () => {
    assert.match(problems('policies: [x.cedar]\ncases: []\n').join('\n'), /^bad\.yaml:2:8: cases: /);
    assert.match(problems(`arguments: { path: String }\ncases:\n  - name: x\n    ${read()}\n    expect: allow\n`).join('\n'), /^bad\.yaml:1:\d+: arguments: applies with `policies:` only/);
  });

  test('defaults: oauth-jwt, prod, an unvouched tool, upstream name after the first "__", a fixed time', () => {
    const c = file(`  - name: x\n    principal: { agent: a }\n    action: call_tool\n    resource: { tool: files__write__file, server: { name: files } }\n    expect: deny\n`).cases[0]!;
    assert.equal(c.subject.authMethod, 'oauth-jwt');
    assert.deepEqual([c.subject.user, c.subject.tenant, c.subject.chain], [null, null, []]);
    assert.ok(c.target.kind === 'tool');
    assert.deepEqual(c.target.class, { access: 'write', destructive: true, openWorld: true, risk: 'high', dataClasses: [] });
    assert.equal(c.target.name, 'write__file');
    assert.equal(c.target.server.environment, 'prod');
    assert.equal(c.context.now.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(c.context.approval, 'none');
  });
});

describe('case files: running', () => {
  test('pass and fail are reported with effect, policies and reason', () => {
    const f = file(`  - name: ok\n    ${read()}\n    expect: allow\n  - name: wrong\n    ${read()}\n    expect: deny\n`);
    const [ok, wrong] = runCases(policy, f.cases);
    assert.deepEqual(ok, { name: 'ok', expected: 'allow', got: 'allow', policyIds: ['read-own'], expectedPolicies: undefined, reason: 'reads in your tenant', pass: true, failure: undefined });
    assert.equal(wrong!.pass, false);
    assert.equal(wrong!.got, 'allow');
    assert.equal(wrong!.failure, 'expected deny, got allow');
  });

  test('policies: the determining set must match exactly; [] asserts that none determined it', () => {
    const f = file(
      `  - name: right\n    ${read()}\n    expect: allow\n    policies: [read-own]\n` +
        `  - name: wrong\n    ${read()}\n    expect: allow\n    policies: [read-own, no-secrets]\n` +
        `  - name: none\n    principal: { agent: a, tenant: other }\n    action: call_tool\n    resource: { tool: files__read_file, server: { name: files, tenant: acme }, access: read, destructive: false }\n    expect: deny\n    policies: []\n`,
    );
    const [right, wrong, none] = runCases(policy, f.cases);
    assert.equal(right!.pass, true);
    assert.equal(wrong!.pass, false);
    assert.equal(wrong!.failure, 'expected policies [no-secrets, read-own], got [read-own]');
    assert.equal(none!.pass, true, none!.failure);
    assert.match(none!.reason, /no policy permits a to call_tool files__read_file/);
  });

  test('arguments are normalised and projected as the gateway does', () => {
    const args = (a: string) => file(`  - name: x\n    ${read(`\n    context: { arguments: ${a} }`)}\n    expect: deny\n`).cases;
    const escaped = runCases(policy, args('{ path: /data/public/../secret/key.pem }'))[0]!;
    assert.deepEqual([escaped.got, escaped.policyIds], ['deny', ['no-secrets']]);
    const plain = runCases(policy, args('{ path: /data/public/notes.txt, undeclared: { deep: 1 } }'))[0]!;
    assert.equal(plain.got, 'allow', plain.reason);
    const ev = evaluate(policy, args('{ path: /data/./public//notes.txt, undeclared: 1 }')[0]!);
    assert.deepEqual(ev.request?.context?.arguments, { path: '/data/public/notes.txt' });
    const typed = runCases(policy, args('{ path: 5 }'))[0]!;
    assert.equal(typed.got, 'deny');
    assert.match(typed.reason, /does not fit the policy schema/);
    const nul = runCases(policy, args('{ path: "/data/a\\0b" }'))[0]!;
    assert.deepEqual([nul.got, nul.policyIds], ['deny', []]);
    assert.match(nul.reason, /NUL byte/);
  });

  test('an unvouched tool needs approval; approved, it is allowed', () => {
    const tool = `principal: { agent: a }\n    action: call_tool\n    resource: { tool: files__write_file, server: { name: files } }`;
    const f = file(`  - name: held\n    ${tool}\n    expect: needs-approval\n    policies: [approve-writes]\n  - name: approved\n    ${tool}\n    context: { approval: approved }\n    expect: allow\n    policies: [untrusted-writes]\n`);
    for (const r of runCases(policy, f.cases)) assert.equal(r.pass, true, `${r.name}: ${r.failure}`);
  });

  test('with the grant check, a use outside the task grant is denied before any policy', () => {
    const f = file(
      `  - name: outside\n    ${read('\n    context: { task: { id: t9, tools: [files__write_file] } }')}\n    expect: deny\n` +
        `  - name: server granted\n    ${read('\n    context: { task: { id: t9, servers: [files] } }')}\n    expect: allow\n`,
    );
    const [outside, server] = runCases(policy, f.cases, { inGrant });
    assert.deepEqual([outside!.got, outside!.policyIds, outside!.reason], ['deny', [], 'outside the grant of task t9']);
    assert.equal(server!.pass, true, server!.failure);
    assert.equal(runCases(policy, f.cases)[0]!.got, 'allow', 'without the check only the policy decides');
  });

  test('a listing decides without arguments and agrees with the list filter', () => {
    const tool = `principal: { agent: a }\n    action: call_tool\n    resource: { tool: files__write_file, server: { name: files } }`;
    const f = file(`  - name: listed\n    ${tool}\n    context: { listing: true }\n    expect: needs-approval\n`);
    const ev = evaluate(policy, f.cases[0]!);
    assert.equal(ev.visible, true);
    assert.equal(ev.request?.context?.listing, true);
    assert.deepEqual(ev.request?.context?.arguments, {});
    assert.equal(runCases(policy, f.cases)[0]!.pass, true);
    // The guard fires when the list filter and the decision part ways (here: a filter that hides everything).
    const hiding = Object.assign(Object.create(policy) as typeof policy, { visible: () => [false] });
    const r = runCases(hiding, f.cases)[0]!;
    assert.deepEqual([r.pass, r.failure], [false, 'the list filter hides it, but the decision is needs-approval']);
  });

  test('a file names its policies and their arguments, relative to itself', () => {
    writeFileSync(join(dir, 'ticket.cedar'), '@id("ticket")\npermit (principal, action, resource) when { context.arguments has target && context.arguments.target == "/t/x" };\n');
    const path = join(dir, 'ticket.test.yaml');
    writeFileSync(path, `policies: [ticket.cedar]\narguments: { target: String }\npathArguments: [target]\ncases:\n  - name: t\n    ${read('\n    context: { arguments: { target: /t/y/../x } }')}\n    expect: allow\n    policies: [ticket]\n`);
    const f = loadCaseFile(path);
    const r = runCases(caseFilePolicy(f)!, f.cases)[0]!;
    assert.equal(r.pass, true, `${r.failure}; ${r.reason}`);
    assert.equal(caseFilePolicy(file(`  - name: x\n    ${read()}\n    expect: allow\n`)), undefined, 'without policies: the caller supplies them');
  });

  test('a request (explain) is a case without expect', () => {
    const r = parseRequest(JSON.stringify({ principal: { agent: 'a', tenant: 'acme' }, action: 'read_resource', resource: { uri: 'file:///x', server: { name: 'files', tenant: 'acme' } } }), 'req.json');
    assert.deepEqual(r.target, { kind: 'resource', uri: 'file:///x', server: { name: 'files', environment: 'prod', tenant: 'acme', trustAnnotations: false, dataClasses: [] } });
    assert.throws(() => parseRequest(`${read()}\nexpect: allow\n`.replace(/\n {4}/g, '\n'), 'req.yaml'), (err: unknown) => err instanceof CaseFileError && /req\.yaml:\d+:\d+: .*expect/.test(err.message));
  });
});

describe('principal.issuer', () => {
  test('a policy tells agents apart by the issuer that vouched for them; a case names it', () => {
    const byIssuer = loadGatewayPolicy({
      sources: [{ name: 'issuer.cedar', text: `@id("idp-a-lists") permit (principal is Agent, action == Action::"list", resource) when { principal has issuer && principal.issuer == "https://idp-a.test" };` }],
    });
    const ask = (issuer?: string) =>
      evaluate(byIssuer, parseRequest(JSON.stringify({ principal: { agent: 'bot', ...(issuer ? { issuer } : {}) }, action: 'list', resource: { server: { name: 'files' } } }), 'req.json')).decision.effect;
    assert.equal(ask('https://idp-a.test'), 'allow');
    assert.equal(ask('https://idp-b.test'), 'deny');
    assert.equal(ask(), 'deny');
  });
});
