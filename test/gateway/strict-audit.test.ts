/**
 * Strict audit (audit.strict, the default): the intent record of a call is committed before the call is
 * forwarded, and the call's own record names it. The attack: make exactly the intent's write fail. The call
 * must be refused (HTTP 503, audit_unavailable) and the upstream must never receive it, as its own call log
 * shows. With strict: false no intent is written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/audit/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { waitFor } from '../helpers/e2e.js';

const calls = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('strict audit', () => {
  let gw: TestGateway;
  let dir: string;
  let log: string;
  let s: RawSession;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-strict-'));
    log = join(dir, 'calls.log');
    gw = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts', [], { MISBEHAVE_CALL_LOG: log }) });
    s = new RawSession(gw.url);
    await s.initialize();
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the intent is committed first, with the decision and digest; the outcome names it', async () => {
    const { message } = await s.request('tools/call', { name: 'echo', arguments: { message: 'one' } });
    assert.ok(message.result, JSON.stringify(message.error));
    const events = (await gw.store.audit.tail({ limit: 10 })).filter((e) => e.method === 'tools/call');
    const [intent, outcome] = events.slice(-2) as [AuditEvent, AuditEvent];
    assert.equal(intent.outcome, 'intent');
    assert.equal(outcome.outcome, 'ok');
    assert.equal(outcome.intentId, intent.id);
    assert.ok(intent.seq! < outcome.seq!);
    assert.equal(intent.argsDigest, outcome.argsDigest);
    assert.deepEqual(intent.decision, outcome.decision);
    assert.equal(intent.upstream, 'bad');
    assert.equal(intent.upstreamStatus, undefined, 'nothing had reached the upstream when the intent was written');
  });

  test('a call whose intent cannot be stored is refused with 503 and never reaches the upstream', async () => {
    const audit = gw.store.audit as { append: (events: readonly AuditEvent[]) => Promise<void> };
    const original = audit.append;
    // Only the intent's write fails: the refusal's own record may still be stored.
    audit.append = (events) => (events.some((e) => e.outcome === 'intent') ? Promise.reject(new Error('disk full')) : original.call(gw.store.audit, events));
    const before = calls(log).length;
    try {
      const { res, message } = await s.request('tools/call', { name: 'echo', arguments: { message: 'must-not-run' } });
      assert.equal(res.status, 503, res.text);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.equal((message.error as { data?: { reason?: string } }).data?.reason, 'audit_unavailable');
      assert.equal(calls(log).length, before, 'the upstream never received the call');
      assert.ok(!calls(log).some((l) => l.includes('must-not-run')));
    } finally {
      audit.append = original;
    }
    // The audit recovers (the refusal's own record, or the health probe's audit/restored), and calls are served again.
    assert.ok(await waitFor(() => gw.health.status().ready, 10_000), 'ready again');
    const { message } = await s.request('tools/call', { name: 'echo', arguments: { message: 'after' } });
    assert.ok(message.result, JSON.stringify(message.error));
    const events = await gw.store.audit.tail({ limit: 20 });
    const refused = events.find((e) => e.method === 'tools/call' && e.errorCode === 'audit_unavailable');
    if (refused !== undefined) {
      assert.equal(refused.intentId, undefined);
      assert.ok(!events.some((e) => e.outcome === 'intent' && e.argsDigest === refused.argsDigest), 'no intent was stored for the refused call');
    }
  });
});

describe('audit.strict: false', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts') }, { audit: { strict: false } });
  });

  after(async () => {
    await gw?.close();
  });

  test('one record per call, no intent', async () => {
    const s = new RawSession(gw.url);
    await s.initialize();
    const { message } = await s.request('tools/call', { name: 'echo', arguments: { message: 'x' } });
    assert.ok(message.result);
    const events = (await gw.store.audit.tail({ limit: 10 })).filter((e) => e.method === 'tools/call');
    assert.deepEqual(events.map((e) => e.outcome), ['ok']);
    assert.equal(events[0]!.intentId, undefined);
  });
});
