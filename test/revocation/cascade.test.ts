/**
 * Revocation cascades down exchanges: a chain of real gateway tokens A -> B -> C (each exchanged from the
 * one before at /oauth/token), A's jti revoked with `warden revoke`'s code: B and C are refused on their
 * next request (already open sessions included), on the gateway that minted them and, on PostgreSQL, on a
 * second replica sharing the store; nothing can be exchanged from them any more; an unrelated chain of the
 * same agents and user keeps working, and `warden audit verify` stays intact.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { stringify } from 'yaml';
import { runAuditVerify } from '../../src/cli/audit-verify.js';
import { revoke, type RevokeDeps } from '../../src/revocation/index.js';
import { bearer, BearerSession, exchangeForm, initializeBody, post, startAuthGateway, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { echo, firstRefusal } from './helpers.js';
import { testSchema } from '../helpers/pg-schema.js';

const PUBLIC_URL = 'http://warden.test/mcp';

interface Fleet {
  dir: string;
  idp: TestIssuer;
  gateways: AuthGateway[];
  /** A config naming the shared store, for `warden audit verify`. */
  verifyConfig: string;
  close(): Promise<void>;
}

async function startFleet(store: (dir: string) => string, replicas: number): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cascade-'));
  const idp = await createTestIssuer(dir);
  const keyFile = join(dir, 'master.key');
  writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const gateways: AuthGateway[] = [];
  const extra = {
    store: store(dir),
    publicUrl: PUBLIC_URL,
    auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
    tokenService: { issuer: 'http://warden.test', maxDelegationDepth: 3 },
    agents: { 'agent-b': { delegatesFrom: ['agent-a'] }, 'agent-c': { delegatesFrom: ['agent-b'] } },
    revocation: { maxStalenessSeconds: 2, pollMs: 200 },
    vault: { masterKeyFile: keyFile },
    log: { level: 'error' },
  };
  for (let i = 0; i < replicas; i++) gateways.push(await startAuthGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, extra));
  const verifyConfig = join(dir, 'verify.yaml');
  writeFileSync(verifyConfig, stringify({ store: extra.store, mcpServers: {} }));
  return {
    dir,
    idp,
    gateways,
    verifyConfig,
    close: async () => {
      for (const g of gateways) await g.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function assertIntact(config: string): Promise<void> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  assert.equal(await runAuditVerify({ config }, out, out), 0, text);
  assert.match(text, /^audit chain INTACT/);
}

function cascadeSuite(name: string, store: (dir: string) => string, replicas: number): void {
  describe(`revocation cascades down token exchanges (${name})`, () => {
    let fleet: Fleet;
    const origin = (gw: AuthGateway) => new URL(gw.url).origin;
    const user = () => fleet.idp.sign({ aud: PUBLIC_URL, sub: 'alice', client_id: 'app-web', scope: 'mcp:tools' });
    const cred = (agent: string) => fleet.idp.sign({ aud: PUBLIC_URL, sub: agent, client_id: agent });
    const exchange = async (gw: AuthGateway, subject: string, agent: string): Promise<string> => {
      const r = await tokenRequest(origin(gw), exchangeForm(subject, await cred(agent)));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return String(r.body.access_token);
    };
    const session = async (gw: AuthGateway, token: string): Promise<BearerSession> => {
      const s = new BearerSession(gw.url, token);
      await s.initialize();
      return s;
    };

    before(async () => {
      fleet = await startFleet(store, replicas);
    });
    after(async () => {
      await fleet?.close();
    });

    test('A -> B -> C: revoking A refuses B and C on the next request, on every replica; an unrelated chain works', async (t) => {
      const [first, last] = [fleet.gateways[0]!, fleet.gateways.at(-1)!];
      const a = await exchange(first, await user(), 'agent-a');
      const b = await exchange(first, a, 'agent-b');
      const c = await exchange(last, b, 'agent-c');
      const other = await exchange(last, await exchange(first, await user(), 'agent-a'), 'agent-b');
      assert.deepEqual(decodeJwt(c).act, { sub: 'agent-c', act: { sub: 'agent-b', act: { sub: 'agent-a' } } });
      const open = await Promise.all(fleet.gateways.flatMap((g) => [session(g, b), session(g, c), session(g, other)]));
      for (const s of open) assert.equal(await echo(s), 'ok');

      const gw = fleet.gateways[0]!;
      const deps: RevokeDeps = {
        revocations: gw.store.revocations,
        tasks: gw.store.tasks,
        tokens: gw.store.tokens,
        endTask: async (id, by) => (await gw.store.tasks.finish(id, 'revoked', new Date().toISOString(), by))!,
      };
      const jti = String(decodeJwt(a).jti);
      const { record } = await revoke(deps, { kind: 'token', value: jti, by: 'ops', reason: 'leaked' });
      const since = performance.now();
      assert.equal(record.kind, 'token');
      for (const [i, s] of open.entries()) {
        const derived = i % 3 !== 2;
        const r = derived ? await firstRefusal(s, since, 3000) : { reason: await echo(s), afterMs: 0 };
        assert.equal(r.reason, derived ? 'revoked' : 'ok', `session ${i} on replica ${Math.floor(i / 3)}`);
        if (derived) assert.ok(r.afterMs < 3000, `refused ${r.afterMs.toFixed(0)} ms after the revocation`);
        if (derived) t.diagnostic(`replica ${Math.floor(i / 3)} refused ${i % 3 === 0 ? 'B' : 'C'} ${r.afterMs.toFixed(0)} ms after the revocation`);
      }
      // A new session with a derived token is refused too, and nothing more can be derived from one.
      for (const g of fleet.gateways) {
        const init = await post(g.url, initializeBody(), bearer(c));
        const error = init.messages[0]?.error as { message?: string; data?: { reason?: string } } | undefined;
        assert.equal(error?.data?.reason, 'revoked', init.text);
        assert.match(String(error?.message), /a token this one was exchanged from has been revoked/);
        assert.doesNotMatch(init.text, new RegExp(jti), 'the refusal does not name the revoked token');
        const r = await tokenRequest(origin(g), exchangeForm(b, await cred('agent-c')));
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.error, 'invalid_grant');
      }
      // The gateway still serves others: a new session with the unrelated chain's token.
      for (const g of fleet.gateways) assert.equal(await echo(await session(g, other)), 'ok');
      await assertIntact(fleet.verifyConfig);
    });
  });
}

cascadeSuite('SQLite', (dir) => join(dir, 'warden.db'), 1);

const baseUrl = process.env.WARDEN_TEST_DATABASE_URL;
if (baseUrl === undefined || baseUrl === '') {
  test('revocation cascade across PostgreSQL replicas', { skip: 'WARDEN_TEST_DATABASE_URL is not set' }, () => {});
} else {
  const schema = testSchema(baseUrl, 'cascade');
  cascadeSuite('two PostgreSQL replicas', () => schema.url(), 2);
  after(() => schema.drop());
}
