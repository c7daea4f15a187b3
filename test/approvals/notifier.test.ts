/**
 * Approval notifications: an opened request is POSTed to a real local receiver with the documented body and
 * a signature `verifyWebhookSignature` accepts; a failing receiver gets one retry; a receiver that is down
 * or hangs never delays or fails the held call, and nothing logged carries the secret or the URL. Secrets
 * come from the environment and a missing or short one refuses the start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ApprovalService, type HoldRequest } from '../../src/approvals/index.js';
import { ApprovalNotifier, readApprovalSecrets } from '../../src/approvals/notifier.js';
import { redactArguments } from '../../src/audit/redact.js';
import { verifyWebhookSignature } from '../../src/audit/sinks/index.js';
import { ConfigError, validateConfig } from '../../src/config/index.js';
import { WardenError } from '../../src/protocol/errors.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { ApprovalRecord } from '../../src/store/types.js';
import { createLogger } from '../../src/telemetry/log.js';

const SECRET = 'approval-webhook-secret-0123456789';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver answering each POST with the next status of `statuses` (the last one repeats), or never when `hang`. */
async function receiver(statuses: number[] = [204], hang = false): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (!hang) res.writeHead(statuses[Math.min(got.length - 1, statuses.length - 1)]!).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/approvals?token=url-token-xyz`, got, server };
}

const stop = (server: Server) => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));

function captureLog() {
  const lines: string[] = [];
  const log = createLogger('debug', new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }));
  return { log, text: () => lines.join('') };
}

let n = 0;
const call = (over: Partial<HoldRequest> = {}): HoldRequest => {
  const args = { path: `/data/x${n++}`, password: 'hunter2-shown-in-full', note: `${'x'.repeat(300)}TAIL` };
  const params = { name: 'delete', arguments: args, _meta: { trace: 't-1' } };
  return { agent: 'agent-a', user: 'bob', tenant: 'acme', chain: ['orchestrator'], task: 't1', upstream: 'files', tool: 'files__delete', params, view: redactArguments(args), shown: params, reason: 'destructive in prod', policyIds: ['hold-prod'], ...over };
};

describe('approval notifier', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-notifier-'));
    store = await openStore(join(dir, 'w.db'));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const service = (notifier: { notify: (r: ApprovalRecord, call: Record<string, unknown>) => void } | undefined, holdMs = 50) =>
    new ApprovalService({ store: store.approvals, holdMs, ttlMs: 60_000, approvers: ['alice'], separationOfDuties: false, pollMs: 10, ...(notifier ? { onOpened: notifier.notify } : {}) });

  /** Holds a call until the hold ends; returns the pending request's id and how long the hold took. */
  async function holdUntilPending(svc: ApprovalService, c = call()): Promise<{ id: string; ms: number }> {
    const t0 = Date.now();
    const err = await svc.hold(c, { signal: new AbortController().signal }).then(() => assert.fail('not held'), (e: unknown) => e);
    assert.ok(err instanceof WardenError && err.code === 'approval_pending', String(err));
    return { id: String(err.data?.approvalId), ms: Date.now() - t0 };
  }

  test('an opened request is POSTed once, with the documented body and the complete call, signed so verifyWebhookSignature accepts it', async () => {
    const rx = await receiver();
    const { log } = captureLog();
    const notifier = new ApprovalNotifier({ url: rx.url, secret: SECRET, headers: { 'x-api-key': 'k1' }, publicUrl: () => 'https://gw.example.com/mcp', log });
    try {
      const c = call();
      const { id } = await holdUntilPending(service(notifier), c);
      await notifier.idle();
      assert.equal(rx.got.length, 1);
      const [{ headers, body }] = rx.got as [Received];
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(headers['x-api-key'], 'k1');
      const sig = { timestamp: headers['x-warden-timestamp'] as string, signature: headers['x-warden-signature'] as string };
      assert.ok(verifyWebhookSignature(SECRET, sig, body), 'valid under the secret');
      assert.ok(!verifyWebhookSignature('another-secret-of-32-bytes-------', sig, body), 'not under another secret');
      assert.ok(!verifyWebhookSignature(SECRET, sig, body.replace('agent-a', 'agent-b')), 'not over another body');
      const r = await store.approvals.get(id);
      const parsed = JSON.parse(body) as Record<string, unknown>;
      assert.deepEqual(parsed, {
        type: 'approval.requested',
        approval: {
          id,
          agent: 'agent-a',
          user: 'bob',
          tenant: 'acme',
          chain: ['orchestrator'],
          task: 't1',
          upstream: 'files',
          tool: 'files__delete',
          arguments: c.shown.arguments,
          call: { params: c.shown, bytes: Buffer.byteLength(JSON.stringify(c.shown)) },
          reason: 'destructive in prod',
          policyIds: ['hold-prod'],
          createdAt: r!.createdAt,
          expiresAt: r!.expiresAt,
        },
        links: { approve: `https://gw.example.com/approvals/${id}/decision` },
      });
      // The approver's copy is complete: a value under a credential-like key, the text after 256 characters, _meta.
      assert.match(body, /hunter2-shown-in-full/);
      assert.match(body, /x{300}TAIL/);
      assert.match(body, /"trace":"t-1"/);
    } finally {
      await stop(rx.server);
    }
  });

  test('a failing receiver gets one retry; a receiver failing twice is given up, logged without secret or URL', async () => {
    const flaky = await receiver([500, 204]);
    const broken = await receiver([503]);
    const { log, text } = captureLog();
    const opts = { secret: SECRET, publicUrl: () => undefined, log, retryDelayMs: 10 };
    try {
      const ok = new ApprovalNotifier({ ...opts, url: flaky.url });
      await holdUntilPending(service(ok));
      await ok.idle();
      assert.equal(flaky.got.length, 2, 'retried once');
      assert.ok(!('links' in (JSON.parse(flaky.got[1]!.body) as object)), 'no link without a public URL');
      const bad = new ApprovalNotifier({ ...opts, url: broken.url });
      await holdUntilPending(service(bad));
      await bad.idle();
      assert.equal(broken.got.length, 2, 'two attempts, no more');
      assert.match(text(), /approval webhook not delivered/);
      assert.match(text(), /HTTP 503/);
      assert.doesNotMatch(text(), new RegExp(`${SECRET}|url-token-xyz|127\\.0\\.0\\.1`));
    } finally {
      await stop(flaky.server);
      await stop(broken.server);
    }
  });

  test('a receiver that is down or hangs neither delays nor fails the held call', async () => {
    const down = await receiver();
    await stop(down.server); // its port now refuses connections
    const hanging = await receiver([204], true);
    const { log, text } = captureLog();
    try {
      for (const [url, timeoutMs] of [
        [down.url, 5000],
        [hanging.url, 300],
      ] as const) {
        const notifier = new ApprovalNotifier({ url, secret: SECRET, timeoutMs, publicUrl: () => undefined, log, retryDelayMs: 10 });
        const { ms } = await holdUntilPending(service(notifier, 100));
        assert.ok(ms < 1000, `the hold ended on its own time (${ms} ms)`);
        await notifier.idle();
      }
      assert.match(text(), /request failed \(ECONNREFUSED\)/);
      assert.match(text(), /no response within 300 ms/);
      assert.doesNotMatch(text(), new RegExp(`${SECRET}|url-token-xyz`));
      // A hook that throws is ignored too.
      const { ms } = await holdUntilPending(service({ notify: () => assert.fail('boom') }));
      assert.ok(ms < 1000);
    } finally {
      await stop(hanging.server);
    }
  });

  test('the notifier refuses a bad URL or a short secret', () => {
    const base = { publicUrl: () => undefined, log: captureLog().log };
    assert.throws(() => new ApprovalNotifier({ ...base, url: 'ftp://x', secret: SECRET }), /http or https/);
    assert.throws(() => new ApprovalNotifier({ ...base, url: 'http://x', secret: 'short' }), /at least 16 bytes/);
  });
});

describe('approval secrets', () => {
  const approvals = (extra: Record<string, unknown>) => validateConfig({ auth: { mode: 'none' }, mcpServers: {}, approvals: { approvers: ['alice'], ...extra } }, 'test').approvals;
  const both = approvals({ webhook: { url: 'https://hooks.example.com/a' }, callback: { enabled: true } });

  test('defaults: variable names, timeout, tolerance; nothing is read when neither is configured', () => {
    assert.equal(both.webhook?.secretEnv, 'WARDEN_APPROVAL_WEBHOOK_SECRET');
    assert.equal(both.webhook?.timeoutMs, 5000);
    assert.equal(both.callback?.secretEnv, 'WARDEN_APPROVAL_CALLBACK_SECRET');
    assert.equal(both.callback?.toleranceSeconds, 300);
    assert.deepEqual(readApprovalSecrets(approvals({}), {}), {});
    assert.deepEqual(readApprovalSecrets(approvals({ callback: { enabled: false } }), {}), {});
  });

  test('read from the environment; an unset or short secret refuses the start, naming the variable only', () => {
    const env = { WARDEN_APPROVAL_WEBHOOK_SECRET: SECRET, WARDEN_APPROVAL_CALLBACK_SECRET: 'callback-secret-0123456789' };
    assert.deepEqual(readApprovalSecrets(both, env), { webhook: SECRET, callback: 'callback-secret-0123456789' });
    const err = (() => {
      try {
        readApprovalSecrets(both, { WARDEN_APPROVAL_CALLBACK_SECRET: 'short-secret' }, 'warden.yaml');
      } catch (e) {
        return e;
      }
      return assert.fail('accepted');
    })();
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /warden\.yaml/);
    assert.match(err.message, /approvals\.webhook\.secretEnv: the environment variable WARDEN_APPROVAL_WEBHOOK_SECRET .* is not set/);
    assert.match(err.message, /approvals\.callback\.secretEnv: the secret in WARDEN_APPROVAL_CALLBACK_SECRET must be at least 16 bytes/);
    assert.doesNotMatch(err.message, /short-secret/);
  });

  test('the secret is never accepted from the config file', () => {
    assert.throws(() => approvals({ webhook: { url: 'https://hooks.example.com/a', secret: SECRET } }), /secret/);
  });
});
