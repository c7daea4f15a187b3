/**
 * `${secret:NAME}` injection and redaction end to end (issue 5 items 3 and 5), with real upstreams behind a
 * real gateway: a stdio server gets a vault secret in its environment, an HTTP server in its Authorization
 * header; both really receive the value, and the client sees `[redacted:NAME]` wherever an upstream echoes it
 * (results, errors, log notifications). The values appear nowhere else: not in client responses, audit rows,
 * the store file or the logs. A rotated secret reaches new sessions; a missing one stops the start.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { verifyAudit } from '../../src/audit/verify.js';
import { encodedForms } from '../../src/credentials/redactor.js';
import { Vault } from '../../src/credentials/index.js';
import { openStore } from '../../src/store/index.js';
import { startHeaderReporter, type HeaderReporter } from '../fixtures/header-reporter.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const hex = () => randomBytes(12).toString('hex');
const API_TOKEN = `api-${hex()}`;
const GH_TOKEN = `ghp_${hex()}`;
const DECOY = `decoy-${hex()}`;
const ROTATED = `api2-${hex()}`;
const NOISY = `noisy-${hex()}`;
/** Values the fixtures answer with anyway: injected, they show that errors and notifications are filtered too. */
const ERROR_TEXT = 'tool failed';
const LOG_TEXT = 'Tool processing data';

describe('secrets injected into upstreams and redacted from what comes back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-secret-e2e-'));
  const dbFile = join(dir, 'warden.db');
  const keyFile = join(dir, 'master.key');
  const recordFile = join(dir, 'record.log');
  const key = randomBytes(32);
  let reporter: HeaderReporter;
  let gw: TestGateway;
  /** Every response body the client received. */
  const received: string[] = [];

  const call = async (s: RawSession, name: string) => {
    const { res, message } = await s.request('tools/call', { name, arguments: {} });
    received.push(res.text);
    return { res, message, text: ((message.result as { content?: Array<{ text?: string }> } | undefined)?.content?.[0]?.text ?? '') };
  };
  const session = async () => {
    const s = new RawSession(`${gw.url}`);
    received.push((await s.initialize()).text);
    return s;
  };
  /** The environment of the recording upstream whose pid is `pid`, as the kernel holds it (Linux). */
  const environOf = (pid: string) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const recorderPids = () => [...new Set(readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0]!))];

  before(async () => {
    writeFileSync(keyFile, key.toString('hex'));
    const store = await openStore(dbFile);
    const vault = await Vault.open(store.secrets, { current: key });
    await vault.set({ name: 'api/token', upstream: 'rec' }, API_TOKEN);
    await vault.set({ name: 'gh/token', upstream: 'hdr' }, GH_TOKEN);
    await vault.set({ name: 'gh/token' }, DECOY);
    await vault.set({ name: 'err/msg' }, ERROR_TEXT);
    await vault.set({ name: 'log/msg' }, LOG_TEXT);
    await vault.set({ name: 'noisy/token' }, NOISY);
    vault.close();
    await store.close();
    reporter = await startHeaderReporter();
    gw = await startTestGateway(
      {
        // One process per session: the rotation test shows an open session's process keeping the old value.
        rec: { ...tsFixtureStdio('recording-upstream.ts', [], { API_TOKEN: '${secret:api/token}', RECORD_FILE: recordFile }), share: 'per-session' },
        hdr: { url: reporter.url, headers: { Authorization: 'Bearer ${secret:gh/token}' } },
        mis: tsFixtureStdio('misbehaving-upstream.ts', [], { NOTE: '${secret:err/msg}' }),
        conf: tsFixtureStdio('conformance-upstream.ts', ['--stdio'], { NOTE: '${secret:log/msg}' }),
        // Prints its token to stderr (which the gateway logs) and dies before answering initialize.
        noisy: { command: process.execPath, args: ['-e', 'console.error("my token is " + process.env.T); process.exit(1)'], env: { T: '${secret:noisy/token}' } },
      },
      { store: dbFile, vault: { masterKeyFile: keyFile } },
    );
  });

  after(async () => {
    await gw?.close();
    await reporter?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('stdio: the upstream gets the value in its environment; the client sees the marker', async () => {
    const s = await session();
    const { text } = await call(s, 'rec__env');
    const env = JSON.parse(text) as Record<string, string>;
    assert.equal(env.API_TOKEN, '[redacted:api/token]');
    assert.ok(!text.includes(API_TOKEN));
    if (existsSync('/proc/self/environ')) {
      const pids = recorderPids();
      assert.equal(pids.length, 1);
      assert.ok(environOf(pids[0]!).includes(`API_TOKEN=${API_TOKEN}`), 'the process really had the value');
    }
  });

  test('HTTP: the upstream gets the most specific secret in its header; the client sees the marker', async () => {
    const s = await session();
    const { text } = await call(s, 'hdr__report');
    assert.equal((JSON.parse(text) as Record<string, string>).authorization, 'Bearer [redacted:gh/token]');
    const sent = reporter.requests.map((r) => r.headers.authorization);
    assert.ok(sent.length > 0 && sent.every((a) => a === `Bearer ${GH_TOKEN}`), 'every request carried the upstream-scoped value, not the unscoped decoy');
  });

  test('upstream errors and log notifications are redacted too', async () => {
    const s = await session();
    const failed = await call(s, 'mis__error_result');
    assert.deepEqual(failed.message.error, { code: -32000, message: '[redacted:err/msg]' });
    const logged = await call(s, 'conf__test_tool_with_logging');
    const notes = logged.res.messages.filter((m) => m.method === 'notifications/message').map((m) => (m.params as { data: unknown }).data);
    assert.ok(notes.includes('[redacted:log/msg]') && notes.includes('Tool execution started'), JSON.stringify(notes));
    assert.ok(!logged.res.text.includes(LOG_TEXT));
  });

  test('a rotated secret reaches new sessions; an open session keeps its connection and still redacts', async () => {
    const old = await session();
    await call(old, 'rec__env');
    const store = gw.store;
    const vault = await Vault.open(store.secrets, { current: key });
    await vault.rotate({ name: 'api/token', upstream: 'rec' }, ROTATED);
    vault.close();
    const fresh = await session();
    const { text } = await call(fresh, 'rec__env');
    assert.equal((JSON.parse(text) as Record<string, string>).API_TOKEN, '[redacted:api/token]');
    assert.ok(!text.includes(ROTATED));
    assert.equal((JSON.parse((await call(old, 'rec__env')).text) as Record<string, string>).API_TOKEN, '[redacted:api/token]');
    if (existsSync('/proc/self/environ')) {
      const live = recorderPids().filter((p) => existsSync(`/proc/${p}`));
      const tokens = live.map((p) => environOf(p).find((e) => e.startsWith('API_TOKEN=')));
      assert.ok(tokens.includes(`API_TOKEN=${ROTATED}`) && tokens.includes(`API_TOKEN=${API_TOKEN}`), 'the new session’s upstream has the new value, the old one the old');
    }
  });

  test('redactions are audited as their own events, and the chain verifies', async () => {
    const db = new Database(dbFile, { readonly: true });
    const rows = db.prepare('SELECT * FROM warden_audit_events ORDER BY seq').all() as Array<Record<string, unknown>>;
    db.close();
    const redactions = rows.filter((r) => r.method === 'response/redacted').map((r) => `${String(r.upstream)}/${String(r.target)}/${String(r.outcome)}`);
    for (const want of ['rec/env/ok', 'hdr/report/ok', 'mis/error_result/ok', 'conf/test_tool_with_logging/ok']) assert.ok(redactions.includes(want), `${want} in ${redactions.join(', ')}`);
    // Every connection opened with vault secrets is a secret/use event naming them (values are checked absent below).
    const uses = rows.filter((r) => r.method === 'secret/use').map((r) => `${String(r.upstream)}:${String(r.target)}`);
    assert.ok(uses.some((u) => u.startsWith('rec:')) && uses.some((u) => u.startsWith('hdr:')), uses.join(', '));
    const failed = rows.find((r) => r.method === 'tools/call' && r.outcome !== 'intent' && r.target === 'error_result');
    assert.equal(failed?.error_code, 'upstream_error');
    const result = await verifyAudit(gw.store);
    assert.equal(result.ok, true, JSON.stringify(result.firstBroken));
  });

  test('no value, in any form, in client responses, audit rows, the store file or the logs', async () => {
    const forms = [API_TOKEN, GH_TOKEN, DECOY, ROTATED, NOISY].flatMap(encodedForms);
    // Upstreams start on first use: a list starts the noisy one, whose stderr is then logged.
    received.push((await (await session()).request('tools/list')).res.text);
    for (let i = 0; i < 100 && !/my token is/.test(gw.logs()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(gw.logs(), /my token is \[redacted:noisy\/token\]/, 'the upstream’s stderr is logged, redacted');
    const db = new Database(dbFile, { readonly: true });
    const audit = JSON.stringify(db.prepare('SELECT * FROM warden_audit_events').all());
    db.close();
    const files = [dbFile, `${dbFile}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1'));
    const places: Array<[string, string]> = [['client responses', received.join('\n')], ['audit rows', audit], ['logs', gw.logs()], ...files.map((f, i): [string, string] => [`store file ${i}`, f])];
    assert.ok(received.length >= 10 && audit.length > 1000 && gw.logs().length > 0);
    for (const [where, text] of places) for (const form of forms) assert.ok(!text.includes(form), `${where} holds a secret value (${form.slice(0, 4)}...)`);
  });

  test('a config referencing a missing secret refuses to start, naming it', async () => {
    const err = await startTestGateway({ rec: tsFixtureStdio('recording-upstream.ts', [], { T: '${secret:api/missing}' }) }, { store: dbFile, vault: { masterKeyFile: keyFile } }).then(
      async (g) => (await g.close(), assert.fail('started')),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /mcpServers\.rec\.env\.T: secret api\/missing is not in the vault for this server's scope \(env=prod,upstream=rec\)/);
    for (const v of [API_TOKEN, ROTATED, GH_TOKEN]) assert.ok(!err.message.includes(v));
  });
});
