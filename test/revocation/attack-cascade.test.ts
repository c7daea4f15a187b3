/**
 * Attacks on the revocation cascade, with real tokens through a real gateway's /oauth/token and MCP endpoint:
 * - a user's own token (from their identity provider) leaks; ops revoke its jti as foreign. The gateway
 *   token an agent exchanged from it must die with it, as a token exchanged from a gateway token does.
 * - the middle token of A -> B -> C is revoked: B and C are refused, A is not.
 * - an agent whose id (a token's client_id) holds a newline and terminal escapes is revoked (as the console's
 *   Agents page does, with the id as seen); `warden revoke list` must show the id escaped, not drive the terminal.
 * With WARDEN_TEST_DATABASE_URL the store is PostgreSQL (a schema of this run) and two replicas share it: the
 * refusals hold on both. Else one gateway on SQLite.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { GatewayTokens } from '../../src/identity/gateway-tokens.js';
import { revoke, type RevokeDeps } from '../../src/revocation/index.js';
import { bearer, BearerSession, exchangeForm, initializeBody, post, startAuthGateway, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { firstRefusal, echo, warden } from './helpers.js';
import { testSchema } from '../helpers/pg-schema.js';

const PUBLIC_URL = 'http://warden.test/mcp';
const dir = mkdtempSync(join(tmpdir(), 'warden-attack-cascade-'));
let idp: TestIssuer;
let gw: AuthGateway;
let replicas: AuthGateway[] = [];
const pgUrl = process.env.WARDEN_TEST_DATABASE_URL;
const schema = pgUrl ? testSchema(pgUrl, 'attack_cascade') : undefined;
const storeUrl = (): string => schema?.url() ?? join(dir, 'warden.db');

before(async () => {
  idp = await createTestIssuer(dir);
  const keyFile = join(dir, 'master.key');
  writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const start = () => startAuthGateway(
    { rec: tsFixtureStdio('recording-upstream.ts') },
    {
      store: storeUrl(),
      publicUrl: PUBLIC_URL,
      auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
      tokenService: { issuer: 'http://warden.test', maxDelegationDepth: 3 },
      agents: { 'agent-b': { delegatesFrom: ['agent-a'] }, 'agent-c': { delegatesFrom: ['agent-b'] } },
      revocation: { maxStalenessSeconds: 2, pollMs: 200 },
      vault: { masterKeyFile: keyFile },
      log: { level: 'error' },
    },
  );
  replicas = pgUrl ? [await start(), await start()] : [await start()];
  gw = replicas[0]!;
});

after(async () => {
  for (const r of replicas) await r.close();
  rmSync(dir, { recursive: true, force: true });
  await schema?.drop();
});

const origin = () => new URL(gw.url).origin;
const user = () => idp.sign({ aud: PUBLIC_URL, sub: 'alice', client_id: 'app-web', scope: 'mcp:tools' });
const cred = (agent: string) => idp.sign({ aud: PUBLIC_URL, sub: agent, client_id: agent });
const exchange = async (subject: string, agent: string): Promise<string> => {
  const r = await tokenRequest(origin(), exchangeForm(subject, await cred(agent)));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return String(r.body.access_token);
};
const session = async (token: string, on = gw): Promise<BearerSession> => {
  const s = new BearerSession(on.url, token);
  await s.initialize();
  return s;
};
const deps = (): RevokeDeps => ({
  revocations: gw.store.revocations,
  tasks: gw.store.tasks,
  tokens: gw.store.tokens,
  endTask: async (id, by) => (await gw.store.tasks.finish(id, 'revoked', new Date().toISOString(), by))!,
});

test("revoking a user's own (foreign) token also refuses the gateway token exchanged from it", async () => {
  const leaked = await user();
  const a = await exchange(leaked, 'agent-a');
  const b = await exchange(a, 'agent-b');
  const unrelated = await exchange(await user(), 'agent-a');
  const [sa, sb, su, direct] = await Promise.all([session(a), session(b), session(unrelated), session(leaked)]);
  // The same tokens on the last replica (the same one on SQLite).
  const last = replicas.at(-1)!;
  const [la, lb] = await Promise.all([session(a, last), session(b, last)]);
  for (const s of [sa, sb, su, direct, la, lb]) assert.equal(await echo(s), 'ok');

  await revoke(deps(), { kind: 'token', value: String(decodeJwt(leaked).jti), by: 'ops', reason: 'leaked', foreign: true });
  const since = performance.now();
  assert.equal((await firstRefusal(direct, since)).reason, 'revoked', 'the leaked token itself');
  assert.equal((await firstRefusal(sa, since)).reason, 'revoked', 'the token exchanged from it');
  assert.equal((await firstRefusal(sb, since)).reason, 'revoked', 'the token exchanged from that one');
  assert.equal((await firstRefusal(la, since)).reason, 'revoked', 'on the other replica');
  assert.equal((await firstRefusal(lb, since)).reason, 'revoked', 'on the other replica');
  const r = await tokenRequest(origin(), exchangeForm(a, await cred('agent-b')));
  assert.equal(r.status, 400, `nothing more is exchanged from it: ${JSON.stringify(r.body)}`);
  assert.equal(await echo(su), 'ok', 'a token exchanged from another of her tokens is not affected');
});

test('revoking the middle of A -> B -> C refuses B and C; A keeps working', async () => {
  const a = await exchange(await user(), 'agent-a');
  const b = await exchange(a, 'agent-b');
  const c = await exchange(b, 'agent-c');
  const [sa, sb, sc] = await Promise.all([session(a), session(b), session(c)]);
  await revoke(deps(), { kind: 'token', value: String(decodeJwt(b).jti), by: 'ops', reason: 'middle' });
  const since = performance.now();
  assert.equal((await firstRefusal(sb, since)).reason, 'revoked');
  assert.equal((await firstRefusal(sc, since)).reason, 'revoked');
  assert.equal(await echo(sa), 'ok', 'the token B was exchanged from is not revoked');
});

test('warden revoke list shows an agent id holding control characters as escapes', async () => {
  const agent = 'evil\n2026-01-01T00:00:00.000Z  agent "innocent"  by ops\u001b[2J\u202e';
  await revoke(deps(), { kind: 'agent', value: agent, by: 'console:carol\u001b[31m', reason: 'seen\u0007' });
  const config = join(dir, 'cli.yaml');
  writeFileSync(config, stringify({ store: storeUrl(), mcpServers: {} }));
  const cli = await warden(['revoke', 'list', '-c', config]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /evil\\u000a2026-01-01T00:00:00.000Z {2}agent "innocent" {2}by ops\\u001b\[2J\\u202e/);
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  assert.doesNotMatch(cli.stdout, /[\u0000-\u0009\u000b-\u001f\u007f\u202e]/, 'no control or bidi character reaches the terminal');
  assert.ok(!cli.stdout.split('\n').some((l) => l.startsWith('2026-01-01T00:00:00.000Z  agent "innocent"')), 'no forged line');
});

test('a revoked token stays refused after its exp, while clock skew still accepts it (and so do those exchanged from it)', async () => {
  // A token that expires in a few seconds; the gateway accepts it until exp + clockSkewSeconds (60 by default).
  const tokens = new GatewayTokens('http://warden.test', PUBLIC_URL, gw.keys, gw.store.tokens, 60);
  const exp = Math.floor(Date.now() / 1000) + 3;
  const { token: a, record } = await tokens.mint({ agent: 'agent-a', user: 'alice', tenant: null, chain: [], scopes: ['mcp:tools'], task: null, parentJti: null, expiresAt: exp });
  const b = await exchange(a, 'agent-b');
  const [sa, sb] = await Promise.all([session(a), session(b)]);
  await revoke(deps(), { kind: 'token', value: record.jti, by: 'ops', reason: 'leaked' });
  const since = performance.now();
  assert.equal((await firstRefusal(sa, since)).reason, 'revoked');
  assert.equal((await firstRefusal(sb, since)).reason, 'revoked');
  // Past exp (within the skew), with a poll of the list in between: still refused, on a new session too.
  while (Date.now() / 1000 < exp + 1.5) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await echo(sa), 'revoked', 'the revoked token is not accepted again once its exp passes');
  assert.equal(await echo(sb), 'revoked', 'nor the token exchanged from it');
  const init = await post(gw.url, initializeBody(), bearer(a));
  assert.equal((init.messages[0]?.error as { data?: { reason?: string } } | undefined)?.data?.reason, 'revoked', `a new session with it is refused: ${init.text}`);
});
