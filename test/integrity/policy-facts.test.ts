/**
 * `resource.integrity` and `context.taint` in the gateway's Cedar model: the schema validates policies that
 * read them, the request builder always sends them (empty for a clean tool), and the compiled engine decides
 * every case exactly as cedar-wasm does on the same schema, policies and request.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadPolicyEngine } from '../../src/policy/engine.js';
import { gatewaySchemaText } from '../../src/policy/gateway-schema.js';
import { decisionRequest, type CallContext, type IntegrityFacts, type Subject, type Target, type TaintFacts } from '../../src/policy/request.js';
import { CedarOracle, engineOutcome } from '../policy/gen/oracle.js';

const POLICIES: Record<string, string> = {
  permit: 'permit (principal, action, resource);',
  critical: 'forbid (principal, action == Action::"call_tool", resource) when { resource.integrity.severityRank >= 4 };',
  hidden: 'forbid (principal, action in [Action::"call_tool", Action::"get_prompt"], resource) when { resource.integrity.findings.contains("unicode-tag") };',
  shadow: 'forbid (principal, action == Action::"call_tool", resource) when { resource.integrity.shadows.contains("mail") && resource.integrity.severity == "high" };',
  taint: 'forbid (principal, action == Action::"call_tool", resource) when { context.taint.untrusted && resource.access != "read" && !context.listing };',
  sources: 'forbid (principal, action == Action::"call_tool", resource) when { context.taint.sources.contains("web__fetch") && context.taint.findings.containsAny(["secret-access"]) };',
};

const server = { name: 'files', environment: 'prod' as const, trustAnnotations: true, dataClasses: [] };
const subject: Subject = { agent: 'a', user: null, tenant: null, chain: [], groups: [], authMethod: 'none', scopes: [] };
const facts = (over: Partial<IntegrityFacts> = {}): IntegrityFacts => ({ findings: [], severity: 'none', severityRank: 0, shadows: [], ...over });
const tool = (integrity?: IntegrityFacts, access: 'read' | 'write' = 'write'): Target => ({
  kind: 'tool',
  server,
  id: 'files__t',
  name: 't',
  class: { access, destructive: false, openWorld: false, risk: 'low', dataClasses: [] },
  ...(integrity ? { integrity } : {}),
});
const ctx = (taint?: TaintFacts, args: Record<string, unknown> | undefined = {}): CallContext => ({
  arguments: args,
  approval: 'none',
  now: new Date('2026-12-05T04:00:00Z'),
  client: { transport: 'http', name: 'c', protocolVersion: '2025-06-18' },
  callsPerMinute: 0,
  ...(taint ? { taint } : {}),
});
const tainted = (over: Partial<TaintFacts> = {}): TaintFacts => ({ untrusted: true, findings: ['instruction-block'], sources: ['web__get'], ...over });

describe('integrity facts in policy', () => {
  const schema = gatewaySchemaText();
  const engine = loadPolicyEngine({ schema, sources: Object.entries(POLICIES).map(([name, text]) => ({ name, text: `@id("${name}")\n${text}` })) });
  const oracle = new CedarOracle(Object.fromEntries(Object.entries(POLICIES).map(([k, v]) => [k, `@id("${k}")\n${v}`])), CedarOracle.schema(`integrity-${process.pid}`, schema));

  const cases: [string, Parameters<typeof decisionRequest>, 'allow' | 'deny', string[]][] = [
    ['a clean tool (no facts given: defaults)', ['call_tool', subject, tool(), ctx()], 'allow', ['permit']],
    ['a critical finding', ['call_tool', subject, tool(facts({ findings: ['secret-access'], severity: 'critical', severityRank: 4 })), ctx()], 'deny', ['critical']],
    ['a medium finding is allowed', ['call_tool', subject, tool(facts({ findings: ['unknown-url'], severity: 'medium', severityRank: 2 })), ctx()], 'allow', ['permit']],
    ['hidden tag characters', ['call_tool', subject, tool(facts({ findings: ['unicode-tag'], severity: 'high', severityRank: 3 })), ctx()], 'deny', ['hidden']],
    ['shadowing mail, high', ['call_tool', subject, tool(facts({ findings: ['shadowing-reference'], severity: 'high', severityRank: 3, shadows: ['mail'] })), ctx()], 'deny', ['shadow']],
    ['shadowing another server', ['call_tool', subject, tool(facts({ findings: ['shadowing-reference'], severity: 'high', severityRank: 3, shadows: ['git'] })), ctx()], 'allow', ['permit']],
    ['a tainted task may not write', ['call_tool', subject, tool(undefined, 'write'), ctx(tainted())], 'deny', ['taint']],
    ['a tainted task may read', ['call_tool', subject, tool(undefined, 'read'), ctx(tainted())], 'allow', ['permit']],
    ['taint sources and findings', ['call_tool', subject, tool(undefined, 'read'), ctx(tainted({ sources: ['web__fetch'], findings: ['secret-access'] }))], 'deny', ['sources']],
    ['a prompt with hidden characters', ['get_prompt', subject, { kind: 'prompt', server, id: 'files__p', name: 'p', integrity: facts({ findings: ['unicode-tag'], severity: 'critical', severityRank: 4 }) }, ctx()], 'deny', ['hidden']],
    ['listing the server is unaffected', ['list', subject, { kind: 'server', server }, ctx(tainted(), undefined)], 'allow', ['permit']],
  ];

  for (const [name, args, decision, reasons] of cases) {
    test(name, () => {
      const req = decisionRequest(...args);
      const got = engineOutcome(engine, req);
      assert.deepEqual(got, { kind: 'decision', decision, reasons: decision === 'allow' ? reasons : reasons, errors: [] });
      assert.deepEqual(oracle.decide(req), got, 'cedar-wasm disagrees');
    });
  }

  test('a policy reading a misspelt integrity attribute is refused at load (strict validation)', () => {
    assert.throws(() => loadPolicyEngine({ schema, sources: [{ name: 'bad.cedar', text: 'forbid (principal, action == Action::"call_tool", resource) when { resource.integrity.severty == "high" };' }] }), /severty/);
  });
});
