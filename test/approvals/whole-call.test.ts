/**
 * Approvers see the whole call, and approve exactly the request that is forwarded. A real gateway with a
 * recording stdio upstream (given a credential from the vault) and a real webhook receiver:
 * - the approver's copy (read with the master key, and POSTed to the webhook) has every key and value, in
 *   full, with the vault's value shown as its name; at rest it is encrypted (the store files hold none of
 *   it), and it is deleted once the request is decided;
 * - the forwarded request is the approved one byte for byte, except the progress token the gateway always
 *   replaces with its own;
 * - a call whose `_meta`, or any other param, differs from the approved one cannot ride the approval: it
 *   opens its own request, is audited as waiting, and the upstream sees nothing of it;
 * - without a master key the gateway refuses to start with approvers, saying how to fix it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/index.js';
import { Vault } from '../../src/credentials/index.js';
import { openStore } from '../../src/store/index.js';
import { recorded } from '../helpers/auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { setEnv } from '../helpers/approvals.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const WEBHOOK_ENV = 'WARDEN_APPROVAL_WEBHOOK_SECRET';
/** The upstream's credential, from the vault; an agent that somehow knows it passes it as an argument. */
const VAULT_VALUE = `vault-value-${randomBytes(8).toString('hex')}`;

describe('approvers see the whole call', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-whole-call-'));
  const rec = join(dir, 'upstream.log');
  const hooks: string[] = [];
  let receiver: Server;
  let gw: TestGateway;
  let s: RawSession;
  let restoreEnv: () => void = () => {};

  /** The tools/call lines the upstream received whose text includes `marker`, parsed. */
  const upstreamCalls = (marker: string) =>
    recorded(rec)
      .filter((l) => l.includes('"tools/call"') && l.includes(marker))
      .map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as { params: Record<string, unknown> });

  /** Sends a tools/call with these params; returns the JSON-RPC response message. */
  const call = async (params: Record<string, unknown>) => (await s.request('tools/call', { name: 'echo', ...params })).message;

  /** Sends a call that needs approval and returns the id of the request it waits on. */
  async function held(params: Record<string, unknown>): Promise<string> {
    const m = await call(params);
    const err = m.error as { data?: { reason?: string; approvalId?: string } } | undefined;
    assert.equal(err?.data?.reason, 'approval_pending', JSON.stringify(m));
    return String(err.data.approvalId);
  }

  before(async () => {
    restoreEnv = setEnv(WEBHOOK_ENV, 'webhook-secret-for-whole-call-tests');
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += String(c)));
      req.on('end', () => (hooks.push(body), res.writeHead(204).end()));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    // The vault holds the upstream's credential before the gateway starts (it resolves references at start).
    const keyFile = join(dir, 'master.key');
    const key = randomBytes(32);
    writeFileSync(keyFile, key.toString('base64'));
    const storeFile = join(dir, 'warden.db');
    const store = await openStore(storeFile);
    const vault = await Vault.open(store.secrets, { current: key });
    await vault.set({ name: 'rec/token' }, VAULT_VALUE);
    vault.close();
    await store.close();
    gw = await startTestGateway(
      // Annotations are not trusted, so `echo` counts as destructive; unset environment counts as prod.
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec, REC_TOKEN: '${secret:rec/token}' }) },
      {
        store: storeFile,
        vault: { masterKeyFile: keyFile },
        policy: { files: [POLICY] },
        approvals: { approvers: ['alice'], holdSeconds: 0, webhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` } },
      },
    );
    s = new RawSession(gw.url);
    await s.initialize();
  });

  after(async () => {
    await gw?.close();
    await new Promise<void>((r) => (receiver.closeAllConnections(), receiver.close(() => r())));
    rmSync(dir, { recursive: true, force: true });
    restoreEnv();
  });

  test('the approver\'s copy is complete (vault values by name), encrypted at rest, deleted once decided; the forwarded call is the approved one', async () => {
    const args = { message: 'whole-1', note: `${'n'.repeat(300)}TAIL-WHOLE-1`, password: 'pw-whole-1', token: VAULT_VALUE };
    const params = { arguments: args, _meta: { trace: 'T-whole-1', progressToken: 'client-progress-1' }, extra: { a: 1 } };
    const id = await held(params);
    const r = (await gw.store.approvals.get(id))!;
    const shown = await gw.approvals!.shownCall(r);
    assert.ok(shown.shown, JSON.stringify(shown));
    // Everything the upstream would get (but the progress token), the vault's value as its name.
    const approved = { name: 'echo', arguments: { ...args, token: '[redacted:rec/token]' }, _meta: { trace: 'T-whole-1' }, extra: { a: 1 } };
    assert.deepEqual(shown.params, approved);
    assert.equal(shown.bytes, Buffer.byteLength(JSON.stringify(approved)));

    // The webhook gets the same complete copy, and never the vault's value.
    await until(() => hooks.some((h) => h.includes(id)));
    const hook = hooks.find((h) => h.includes(id))!;
    assert.deepEqual((JSON.parse(hook) as { approval: { call: { params: unknown } } }).approval.call.params, approved);
    assert.ok(!hook.includes(VAULT_VALUE));

    // At rest: nothing of what the redacted summary leaves out is readable in the store's files.
    const files = readdirSync(dir).filter((f) => f.startsWith('warden.db')).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
    for (const secretPart of ['TAIL-WHOLE-1', 'pw-whole-1', VAULT_VALUE, 'T-whole-1']) assert.ok(!files.includes(secretPart), `${secretPart} is not stored in the clear`);

    await gw.approvals!.decide(id, 'alice', 'approved', null);
    assert.equal(await gw.store.approvals.sealedCall(id, new Date().toISOString()), undefined, 'deleted once decided');
    const after = await gw.approvals!.shownCall((await gw.store.approvals.get(id))!);
    assert.equal(after.shown, false);

    // The same call (with another progress token, which is not bound) goes through, once.
    const m = await call({ ...params, _meta: { trace: 'T-whole-1', progressToken: 'client-progress-2' } });
    assert.equal((m.result as { content: { text: string }[] }).content[0]?.text, 'whole-1', JSON.stringify(m));
    const [sent, ...more] = upstreamCalls('TAIL-WHOLE-1');
    assert.equal(more.length, 0, 'exactly one call reached the upstream');
    // What the upstream got is what was approved, byte for byte, but for the gateway's own progress token.
    const meta = sent!.params._meta as Record<string, unknown>;
    assert.match(String(meta.progressToken), /^warden-progress-[\w-]+-\d+$/);
    const { progressToken: _t, ...boundMeta } = meta;
    assert.deepEqual({ ...sent!.params, _meta: boundMeta }, { ...approved, arguments: args });
    assert.equal((await gw.store.approvals.get(id))?.state, 'consumed');
  });

  test('a call whose _meta or any other param differs from the approved one cannot ride the approval', async () => {
    const args = { message: 'ride-1' };
    const id = await held({ arguments: args, _meta: { trace: 'approved-meta' } });
    await gw.approvals!.decide(id, 'alice', 'approved', 'this exact call');
    const before = recorded(rec).length;
    for (const variant of [{ _meta: { trace: 'other-meta' } }, { _meta: { trace: 'approved-meta', extra: 1 } }, {}, { _meta: { trace: 'approved-meta' }, task: { ttl: 60_000 } }]) {
      const other = await held({ arguments: args, ...variant });
      assert.notEqual(other, id, `${JSON.stringify(variant)} waits on a request of its own`);
      const events = await gw.store.audit.tail({ limit: 5 });
      const event = events.findLast((e) => e.method === 'tools/call' && e.outcome !== 'intent');
      assert.equal(event?.approvalId, other, 'audited with the request it waits on');
      assert.equal(event?.errorCode, 'approval_pending');
    }
    assert.equal(recorded(rec).length, before, 'the upstream saw none of them');
    assert.equal((await gw.store.approvals.get(id))?.state, 'approved', 'the approval is still unused');
    // The approved call itself goes through once.
    const m = await call({ arguments: args, _meta: { trace: 'approved-meta' } });
    assert.equal((m.result as { content: { text: string }[] }).content[0]?.text, 'ride-1', JSON.stringify(m));
    const sent = upstreamCalls('ride-1');
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]!.params._meta, { trace: 'approved-meta' });
  });

  test('without a master key, a gateway with approvers does not start, and says how to fix it', { skip: process.env.WARDEN_MASTER_KEY !== undefined && 'WARDEN_MASTER_KEY is set here' }, async () => {
    const err = await startTestGateway({}, { approvals: { approvers: ['alice'] }, vault: {} }).then(
      (g) => (void g.close(), assert.fail('it started')),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /approvals\.approvers: approvers are shown each held call in full, which the gateway keeps encrypted under the vault master key until it is decided; no vault master key is configured: set WARDEN_MASTER_KEY .* or vault\.masterKeyFile/);
  });
});

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), 'timed out');
}
