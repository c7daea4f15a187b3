/**
 * Decisions by signed callback, on an in-process gateway: a held call is approved by a correctly signed
 * POST to /approvals/<id>/decision and completes once; a missing or bad signature, a stale timestamp, a
 * replayed request, self-approval, an approver not listed, an unknown id and a second decision are refused
 * with their codes, and none of them reaches the upstream. A denial by callback refuses the held call.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { signWebhook } from '../../src/audit/sinks/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { nextPending, recordedCalls, setEnv } from '../helpers/approvals.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const ENV = 'WARDEN_APPROVAL_CALLBACK_SECRET';
const SECRET = 'callback-secret-for-tests-0123456789';
let restoreEnv: () => void = () => {};
const recDir = mkdtempSync(join(tmpdir(), 'warden-callback-'));
const record = join(recDir, 'upstream.log');
let gw: TestGateway;

before(async () => {
  restoreEnv = setEnv(ENV, SECRET);
  gw = await startTestGateway(
    // Annotations are not trusted, so `echo` counts as destructive; unset environment counts as prod.
    { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: record }) },
    // `anonymous` (the agent in auth mode none) is listed so the self-approval rule itself is what refuses it.
    { policy: { files: [POLICY] }, approvals: { approvers: ['alice', 'anonymous'], holdSeconds: 30, callback: { enabled: true } } },
  );
});

after(async () => {
  await gw?.close();
  rmSync(recDir, { recursive: true, force: true });
  restoreEnv();
});

const calls = (message: string) => recordedCalls(record, message);
const decisionUrl = (id: string) => `${new URL(gw.url).origin}/approvals/${id}/decision`;

interface Signed {
  body: string;
  headers: Record<string, string>;
}

function sign(payload: unknown, opts: { secret?: string; at?: number } = {}): Signed {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor((opts.at ?? Date.now()) / 1000));
  return { body, headers: { 'content-type': 'application/json', 'x-warden-timestamp': timestamp, 'x-warden-signature': signWebhook(opts.secret ?? SECRET, timestamp, body) } };
}

async function post(id: string, req: Signed): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(decisionUrl(id), { method: 'POST', headers: req.headers, body: req.body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const pending = (seen: string[] = []) => nextPending(gw.store.approvals, seen);

test('a held call is approved by a signed callback and runs once; forged, stale, replayed and refused decisions are not accepted', async () => {
  const s = new RawSession(gw.url);
  await s.initialize();
  const held = s.request('tools/call', { name: 'echo', arguments: { message: 'deploy-7' } });
  const id = await pending();
  const approve = { id, decision: 'approve', approver: 'alice', reason: 'change 7' };

  const unsigned = await fetch(decisionUrl(id), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(approve) });
  assert.equal(unsigned.status, 401);
  const forged = await post(id, sign(approve, { secret: 'not-the-callback-secret-0123456789' }));
  assert.equal(forged.status, 401);
  assert.match(String(forged.body.message), /signature is not valid/);
  const tampered = sign(approve);
  tampered.body = tampered.body.replace('change 7', 'change 8');
  assert.equal((await post(id, tampered)).status, 401);
  const stale = await post(id, sign(approve, { at: Date.now() - 301_000 }));
  assert.equal(stale.status, 401);
  assert.match(String(stale.body.message), /timestamp/);

  const other = '01890000-0000-7000-8000-000000000000';
  const unknown = await post(other, sign({ ...approve, id: other }));
  assert.equal(unknown.status, 404);
  // The body names the request, so a decision signed for one request is refused for another.
  const elsewhere = await post(other, sign({ ...approve, reason: 'meant for this one' }));
  assert.equal(elsewhere.status, 400);
  assert.match(String(elsewhere.body.message), /id in the body/);
  const self = await post(id, sign({ ...approve, approver: 'anonymous' }));
  assert.equal(self.status, 403);
  assert.match(String(self.body.message), /may not approve its own request/);
  const stranger = await post(id, sign({ ...approve, approver: 'mallory' }));
  assert.equal(stranger.status, 403);
  assert.match(String(stranger.body.message), /mallory is not an approver/);
  const malformed = await post(id, sign({ id, decision: 'maybe', approver: 'alice' }));
  assert.equal(malformed.status, 400);
  assert.equal(calls('deploy-7').length, 0, 'nothing reaches the upstream while held');

  const good = sign(approve);
  const ok = await post(id, good);
  assert.deepEqual([ok.status, ok.body], [200, { id, state: 'approved' }]);
  const { message } = await held;
  assert.equal((message.result as { content: { text: string }[] }).content[0]?.text, 'deploy-7', JSON.stringify(message));

  const replay = await post(id, good);
  assert.equal(replay.status, 409);
  assert.equal(replay.body.error, 'replayed');
  const again = await post(id, sign({ ...approve, reason: 'once more' }));
  assert.equal(again.status, 409);
  assert.match(String(again.body.message), /already (approved|consumed)/);
  assert.equal(calls('deploy-7').length, 1, 'the upstream saw exactly one call');

  const events = await gw.store.audit.tail({ limit: 200 });
  const decided = events.filter((e) => e.method === 'approval/approve' && e.approvalId === id);
  assert.ok(decided.some((e) => e.outcome === 'ok' && e.authMethod === 'webhook' && e.agent === 'anonymous' && /approved by alice: change 7/.test(e.decision?.reason ?? '')));
  assert.ok(decided.some((e) => e.outcome === 'denied' && e.errorCode === 'forbidden'), 'a refused approver is audited too');
  assert.ok(events.some((e) => e.method === 'approval/decision' && e.outcome === 'denied' && e.errorCode === 'unauthenticated' && e.authMethod === null));
  assert.ok(events.some((e) => e.method === 'tools/call' && e.outcome !== 'intent' && e.approvalId === id && e.outcome === 'ok'));
});

test('a denial by callback refuses the held call, which never reaches the upstream; GET is not a decision', async () => {
  const s = new RawSession(gw.url);
  await s.initialize();
  const held = s.request('tools/call', { name: 'echo', arguments: { message: 'drop-db' } });
  const id = await pending();
  const get = await fetch(decisionUrl(id));
  assert.equal(get.status, 405);
  const no = await post(id, sign({ id, decision: 'deny', approver: 'alice', reason: 'not today' }));
  assert.deepEqual([no.status, no.body], [200, { id, state: 'denied' }]);
  const { message } = await held;
  const err = message.error as { message: string; data: { reason: string; approvalId: string } };
  assert.equal(err.data.reason, 'approval_denied');
  assert.equal(err.data.approvalId, id);
  assert.match(err.message, /not today/);
  assert.equal(calls('drop-db').length, 0);
  const events = await gw.store.audit.tail({ limit: 200 });
  assert.ok(events.some((e) => e.method === 'approval/deny' && e.approvalId === id && e.outcome === 'ok' && e.authMethod === 'webhook'));
});
