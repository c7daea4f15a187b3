/**
 * Agent registrations name their issuer: the config rules (a load-time ConfigError that says how to fix it)
 * and what each id resolves to (agentHome), which the authenticator enforces (test/identity/issuer-binding).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { agentHome, ConfigError, validateConfig, type WardenConfig } from '../../src/config/index.js';

const A = { issuer: 'https://idp-a.test', jwksFile: 'a.json' };
const B = { issuer: 'https://idp-b.test', jwksFile: 'b.json' };
const spiffe = { trustDomain: 'example.org', bundleFile: 'bundle.json' };

const config = (auth: unknown, agents: Record<string, unknown>, extra: Record<string, unknown> = {}): WardenConfig =>
  validateConfig({ auth, agents, mcpServers: {}, ...extra }, 'warden.yaml');

/** The config error's text, or a failure when the config is accepted. */
function problems(auth: unknown, agents: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  try {
    config(auth, agents, extra);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  return assert.fail('the config was accepted');
}

describe('agent issuers', () => {
  test('one issuer: an agent without `issuer` is that issuer\'s; SPIFFE IDs are their trust domain\'s; unregistered ids are no one\'s', () => {
    const c = config({ issuers: [A], spiffe }, { 'agent-a': {}, 'spiffe://example.org/wl': {} });
    assert.equal(agentHome(c, 'agent-a'), A.issuer);
    assert.equal(agentHome(c, 'spiffe://example.org/wl'), 'spiffe://example.org');
    assert.equal(agentHome(c, 'spiffe://other.org/x'), 'spiffe://other.org');
    assert.equal(agentHome(c, 'not-registered'), null);
    // Names of Object.prototype are not registrations.
    assert.equal(agentHome(c, 'constructor'), null);
    assert.equal(agentHome(c, '__proto__'), null);
  });

  test('several issuers: every non-SPIFFE agent must name one, and the error says how', () => {
    const text = problems({ issuers: [A, B] }, { 'agent-a': { tenant: 'acme' }, 'agent-b': { issuer: B.issuer } });
    assert.match(text, /^invalid config warden\.yaml:/);
    assert.match(text, /agents\.agent-a: 2 issuers are trusted \("https:\/\/idp-a\.test", "https:\/\/idp-b\.test"\): name the one whose tokens act as this agent, e\.g\. issuer: "https:\/\/idp-a\.test"/);
    assert.doesNotMatch(text, /agents\.agent-b/);
    const ok = config({ issuers: [A, B], spiffe }, { 'agent-a': { issuer: A.issuer }, 'agent-b': { issuer: B.issuer }, 'spiffe://example.org/wl': {} });
    assert.equal(agentHome(ok, 'agent-a'), A.issuer);
    assert.equal(agentHome(ok, 'agent-b'), B.issuer);
  });

  test('an issuer that is not trusted, a trust domain for a non-SPIFFE id, or an unregistered delegator with several issuers is refused', () => {
    assert.match(problems({ issuers: [A] }, { x: { issuer: 'https://idp-c.test' } }), /agents\.x\.issuer: "https:\/\/idp-c\.test" is not a trusted issuer .*trusted: "https:\/\/idp-a\.test"/);
    assert.match(problems({ issuers: [A], spiffe }, { x: { issuer: 'spiffe://example.org' } }), /agents\.x\.issuer: only SPIFFE IDs of spiffe:\/\/example\.org come from that trust domain/);
    assert.match(problems({ issuers: [A], spiffe }, { 'spiffe://other.org/w': { issuer: 'spiffe://example.org' } }), /only SPIFFE IDs of spiffe:\/\/example\.org/);
    assert.match(
      problems({ issuers: [A, B] }, { c: { issuer: A.issuer, delegatesFrom: ['ghost', '*', 'spiffe://example.org/w'] } }),
      /agents\.c\.delegatesFrom\.0: "ghost" is not a registered agent: with several issuers, register it under agents with its issuer/,
    );
    // With one issuer an unregistered delegator can only be that issuer's.
    config({ issuers: [A] }, { c: { delegatesFrom: ['ghost'] } });
  });

  test('an issuer listed twice, named like a trust domain, or equal to the token service\'s own issuer is refused', () => {
    assert.match(problems({ issuers: [A, { ...A, jwksFile: 'other.json' }] }, {}), /auth\.issuers\.1\.issuer: "https:\/\/idp-a\.test" is listed twice/);
    assert.match(problems({ issuers: [{ ...A, issuer: 'spiffe://example.org' }] }, {}), /an OAuth issuer may not be named spiffe:\/\//);
    assert.match(problems({ issuers: [{ ...A, issuer: 'https://gw.example.com' }] }, {}, { publicUrl: 'https://gw.example.com/mcp' }), /is the gateway's own token service issuer/);
    config({ issuers: [{ ...A, issuer: 'https://gw.example.com' }] }, {}, { publicUrl: 'https://gw.example.com/mcp', tokenService: { enabled: false } });
  });

  test('untyped tokens are refused by default; an issuer may allow them', () => {
    const c = config({ issuers: [A, { ...B, allowUntypedTokens: true }] }, {});
    assert.ok(c.auth && c.auth.mode === 'oauth');
    assert.deepEqual(c.auth.issuers.map((i) => i.allowUntypedTokens), [false, true]);
  });

  test('development mode (auth: none) ignores registrations\' issuers', () => {
    const c = config({ mode: 'none' }, { anonymous: { tenant: 'acme' } });
    assert.equal(agentHome(c, 'anonymous'), null);
  });
});
