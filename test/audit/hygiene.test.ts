/**
 * Audit hygiene through a real gateway with real tokens, on SQLite and PostgreSQL: what a client controls
 * is bounded and made well-formed before it is hashed and stored. Each attack is followed by a check that
 * the gateway still serves another session and that `warden audit verify` finds the chain intact:
 * - ten requests with a 3.5 MB method name (the store grew 38 MB before) add ten short records;
 * - claims with newlines and ANSI escapes cannot forge or hide a line of `audit tail`, `trace` or `verify`;
 * - a request naming someone else's session is not recorded in that session's trail;
 * - an unknown tool call records the name asked for (bounded), so probing shows;
 * - a lone surrogate in a tool name is stored as U+FFFD (a claim or a method holding one is refused), so
 *   the chain still verifies.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { AuditRecorder, type AuditEvent } from '../../src/audit/index.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { openStore } from '../../src/store/index.js';
import { silentLogger } from '../../src/telemetry/log.js';
import { makeEvent } from '../store/store-suite.js';
import { renderTrace } from '../../src/audit/trace.js';
import { formatEvent } from '../../src/cli/audit.js';
import { runAuditVerify } from '../../src/cli/audit-verify.js';
import { bearer, BearerSession, post, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { echo } from '../revocation/helpers.js';
import { testSchema } from '../helpers/pg-schema.js';

/** Every character that would not print as itself on a terminal (what printable escapes). */
const RAW_CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

function hygieneSuite(name: string, storeOf: () => string | undefined): void {
  describe(`audit hygiene (${name})`, () => {
    let idp: TestIssuer;
    let gw: AuthGateway;
    let dir: string;

    const token = (sub: string, agent = 'agent-a') => idp.sign({ aud: gw.publicUrl, sub, client_id: agent });
    const session = async (sub: string, agent?: string): Promise<BearerSession> => {
      const s = new BearerSession(gw.url, await token(sub, agent));
      await s.initialize();
      return s;
    };
    const events = (q: { user?: string; session?: string }) => gw.store.audit.trace({ ...q, limit: 1000 });
    /** Another principal's session still works, and the chain verifies. */
    const stillServingAndIntact = async (): Promise<void> => {
      assert.equal(await echo(await session(`bystander-${randomBytes(3).toString('hex')}`, 'agent-z')), 'ok');
      const config = join(gw.dir, 'verify.yaml');
      writeFileSync(config, stringify({ store: storeOf() ?? join(gw.dir, 'warden.db'), mcpServers: {} }));
      const out = new PassThrough();
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      assert.equal(await runAuditVerify({ config }, out, out), 0, text);
      assert.match(text, /^audit chain INTACT/);
      assert.doesNotMatch(text.replace(/\n/g, ''), RAW_CONTROL, 'verify prints no raw control character');
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'warden-hygiene-'));
      idp = await createTestIssuer(dir);
      const store = storeOf();
      gw = await startAuthGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, { ...(store ? { store } : {}), auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, log: { level: 'error' } });
    });
    after(async () => {
      await gw?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('ten requests with a 3.5 MB method name add ten short records', async (t) => {
      const s = await session('alice');
      const file = join(gw.dir, 'warden.db');
      const size = () => [file, `${file}-wal`].filter(existsSync).reduce((n, f) => n + statSync(f).size, 0);
      const before = size();
      const method = 'x'.repeat(3_500_000);
      for (let i = 0; i < 10; i++) {
        const r = await s.post({ jsonrpc: '2.0', id: i + 1, method });
        assert.equal(r.status, 200, r.text.slice(0, 200));
        assert.ok(r.text.length < 2000, `the answer echoes the method: ${r.text.length} bytes`);
      }
      const recorded = (await events({ session: s.sessionId })).filter((e) => e.method.startsWith('xxx'));
      assert.equal(recorded.length, 10);
      for (const e of recorded) {
        assert.ok(e.method.length < 200, `method kept at ${e.method.length} characters`);
        assert.match(e.method, /… \[3499872 more characters\]$/);
      }
      const bytes = JSON.stringify(recorded).length;
      assert.ok(bytes < 10_000, `the ten records hold ${bytes} bytes`);
      const grew = size() - before;
      if (storeOf() === undefined) assert.ok(grew < 1_000_000, `the store grew ${grew} bytes`);
      t.diagnostic(`ten 3.5 MB method names: records hold ${bytes} bytes${storeOf() === undefined ? `, the SQLite files grew ${grew} bytes` : ''}`);
      await stillServingAndIntact();
    });

    test('claims with newlines and ANSI escapes cannot forge a line of tail, trace or verify', async () => {
      const forged = `mallory\n${new Date().toISOString()}  tools/call  admin  root  rec/echo  ok\u001b[2K\r`;
      const s = await session(forged, 'agent-\u001b[31mred\u001b[0m');
      assert.equal(await echo(s), 'ok');
      const mine = await events({ user: forged });
      assert.ok(mine.length >= 2, 'the claims are recorded as given (bounded, well-formed)');
      for (const e of mine) {
        const line = formatEvent(e);
        assert.doesNotMatch(line, RAW_CONTROL, `tail row: ${JSON.stringify(line)}`);
      }
      const trace = renderTrace(mine);
      for (const line of trace.split('\n')) assert.doesNotMatch(line, RAW_CONTROL, `trace line: ${JSON.stringify(line)}`);
      assert.ok(trace.includes('mallory\\u000a'), 'the newline shows as an escape');
      // An intent its call's record closes is folded into that record's line (strict audit).
      const shown = mine.filter((e) => e.outcome !== 'intent' || !mine.some((x) => x.intentId === e.id));
      assert.equal(trace.split('\n').filter((l) => /^\s*\d{4}-\d\d-\d\dT/.test(l)).length, shown.length, 'one trace line per event shown, none forged');
      await stillServingAndIntact();
    });

    test("a request naming another principal's session stays out of that session's trail", async () => {
      const alice = await session('alice-2');
      assert.equal(await echo(alice), 'ok');
      const r = await post(gw.url, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'rec__echo', arguments: { message: 'hi' } } }, { ...bearer(await token('bob', 'agent-b')), 'mcp-session-id': alice.sessionId, 'mcp-protocol-version': '2025-11-25' });
      assert.equal(r.status, 404, r.text);
      const trail = await events({ session: alice.sessionId });
      assert.ok(trail.length > 0);
      assert.deepEqual([...new Set(trail.map((e) => e.user))], ['alice-2'], 'only alice is in her session');
      const bobs = await events({ user: 'bob' });
      const refused = bobs.find((e) => e.errorCode === 'session_not_found');
      assert.ok(refused, 'the refusal is recorded');
      assert.equal(refused.sessionId, null);
      assert.equal(await echo(alice), 'ok');
      await stillServingAndIntact();
    });

    test('an unknown tool call records the name asked for, bounded', async () => {
      const s = await session('prober');
      const asked = ['rec__does_not_exist', 'rec__' + 'y'.repeat(100_000)];
      for (const name of asked) {
        const { message } = await s.request('tools/call', { name, arguments: {} });
        const error = message.error as { message: string; data?: { reason?: string } };
        assert.equal(error.data?.reason, 'unknown_tool');
        assert.ok(error.message.length < 400, `the answer echoes ${error.message.length} characters`);
      }
      const probes = (await events({ session: s.sessionId })).filter((e) => e.errorCode === 'unknown_tool');
      assert.deepEqual(probes.map((e) => e.target?.slice(0, 30)), asked.map((n) => n.slice(0, 30)));
      assert.equal(probes[0]!.target, asked[0]);
      assert.ok(probes[1]!.target!.length < 8300, `kept ${probes[1]!.target!.length} characters`);
      assert.match(probes[1]!.target!, /more characters\]$/);
      await stillServingAndIntact();
    });

    test('a lone surrogate in a tool name is stored as U+FFFD (in a claim or a method, refused): verify stays intact: verify stays intact', async () => {
      // A claim holding one is refused before anything is recorded.
      const bad = await post(gw.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: {} }, bearer(await token('eve\ud800')));
      assert.equal(bad.status, 401, bad.text);
      const s = await session('eve');
      const call = `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"rec__\\udc00echo","arguments":{"message":"\\ud83d"}}}`;
      assert.equal((await post(gw.url, call, s.headers())).status, 200);
      // A method holding one is refused as an invalid request (and recorded as such).
      const method = await post(gw.url, `{"jsonrpc":"2.0","id":6,"method":"tools/\\ud800call","params":{}}`, s.headers());
      assert.equal(method.status, 400, method.text);
      const mine: AuditEvent[] = await events({ session: s.sessionId });
      assert.ok(mine.some((e) => e.target === 'rec__\ufffdecho' && e.errorCode === 'unknown_tool'), 'the tool name is kept with U+FFFD');
      assert.equal(await echo(s), 'ok');
      await stillServingAndIntact();
    });
  });
}

test('why: a lone surrogate appended as is breaks the chain; through the recorder it does not', async () => {
  const store = await openStore(':memory:');
  try {
    await store.audit.append([makeEvent({ target: 'rec__\udc00echo' })]);
    assert.equal((await verifyAudit(store)).ok, false, 'the store changes the text it hashed');
  } finally {
    await store.close();
  }
  const clean = await openStore(':memory:');
  try {
    const recorder = new AuditRecorder(clean.audit, silentLogger());
    const { id: _id, time: _time, instance: _instance, latencyMs: _latency, ...draft } = makeEvent({ target: 'rec__\udc00echo', method: 'tools/\ud800call' });
    await recorder.record({ ...draft, startedAt: Date.now() });
    assert.equal((await verifyAudit(clean)).ok, true);
  } finally {
    await clean.close();
  }
});

hygieneSuite('SQLite', () => undefined);

const baseUrl = process.env.WARDEN_TEST_DATABASE_URL;
if (baseUrl === undefined || baseUrl === '') {
  test('audit hygiene on PostgreSQL', { skip: 'WARDEN_TEST_DATABASE_URL is not set' }, () => {});
} else {
  const schema = testSchema(baseUrl, 'hygiene');
  hygieneSuite('PostgreSQL', () => schema.url());
  after(() => schema.drop());
}
