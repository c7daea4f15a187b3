/**
 * Policy hot reload: the gateway watches its policy file and swaps the set when a change loads (an editor's
 * atomic rename, an in-place write), keeps the last good set when it does not (a syntax error, a policy
 * the schema refuses, the file gone), logs and audits every reload (`policy/reload`), and stamps each
 * decision with the version in force. RunningGateway.policy.reload() does the same on demand.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/audit/index.js';
import { auditAfter, lastAuditId } from '../helpers/auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const V1 = `@id("list") permit (principal, action == Action::"list", resource);
@id("echo") permit (principal, action == Action::"call_tool", resource is Tool) when { resource.upstreamName == "echo" };
`;
const V2 = `${V1}@id("env") @reason("env is allowed now") permit (principal, action == Action::"call_tool", resource is Tool) when { resource.upstreamName == "env" };\n`;
const BAD_SYNTAX = `${V2}permit (principal, action, resource) when { ;\n`;
const BAD_SCHEMA = `${V2}@id("bad") permit (principal, action, resource is Tool) when { resource.nope == "x" };\n`;

/** Polls `fn` until it returns a value (bounded): reloads are asynchronous. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Calls a tool; returns 'allowed', 'denied' (-32008) or fails on anything else. */
async function attempt(s: RawSession, name: string): Promise<'allowed' | 'denied'> {
  const { message } = await s.request('tools/call', { name, arguments: { message: 'x' } });
  if (message.result) return 'allowed';
  const e = message.error as { code: number } | undefined;
  assert.equal(e?.code, -32008, JSON.stringify(message));
  return 'denied';
}

const reloads = (events: AuditEvent[]) => events.filter((e) => e.method === 'policy/reload');
const calls = (events: AuditEvent[]) => events.filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

describe('policy hot reload from file changes', () => {
  let dir: string;
  let file: string;
  let gw: TestGateway;
  let s: RawSession;
  let v1: string;
  let v2: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-reload-'));
    file = join(dir, 'policy.cedar');
    writeFileSync(file, V1);
    gw = await startTestGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, { policy: { files: [file] } });
    s = new RawSession(gw.url);
    await s.initialize();
  });

  after(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a denied call is allowed within seconds of the file being replaced (atomic rename, as editors save)', async () => {
    v1 = gw.policy.current().version;
    assert.match(v1, /^[0-9a-f]{16}$/);
    const mark = await lastAuditId(gw);
    assert.equal(await attempt(s, 'echo'), 'allowed');
    assert.equal(await attempt(s, 'env'), 'denied');
    writeFileSync(join(dir, 'policy.cedar.tmp'), V2);
    renameSync(join(dir, 'policy.cedar.tmp'), file);
    const started = Date.now();
    await eventually('env to be allowed', async () => ((await attempt(s, 'env')) === 'allowed' ? true : undefined));
    assert.ok(Date.now() - started < 8_000, `reload took ${Date.now() - started} ms`);
    v2 = gw.policy.current().version;
    assert.notEqual(v2, v1);

    const events = await eventually('the reload audit event', async () => {
      const ev = await auditAfter(gw, mark);
      return reloads(ev).length > 0 ? ev : undefined;
    });
    const [first] = calls(events);
    const last = calls(events).at(-1)!;
    assert.equal(first?.decision?.policyVersion, v1);
    assert.equal(last.outcome, 'ok');
    assert.deepEqual(last.decision, { effect: 'allow', policyIds: ['env'], reason: 'env is allowed now', policyVersion: v2 });
    const [reload] = reloads(events);
    assert.equal(reload?.outcome, 'ok');
    assert.equal(reload?.decision?.policyVersion, v2);
    assert.match(gw.logs(), /policy reloaded/);
  });

  test('an invalid policy is refused: the last good set stays, the logs say why, the audit records it', async () => {
    for (const [bad, problem] of [
      [BAD_SYNTAX, /policy\.cedar/],
      [BAD_SCHEMA, /nope/],
    ] as const) {
      const mark = await lastAuditId(gw);
      const refusedBefore = count(gw.logs(), /policy reload refused/);
      writeFileSync(file, bad);
      await eventually('the refusal in the logs', () => (count(gw.logs(), /policy reload refused/) > refusedBefore ? true : undefined));
      const refusal = gw.logs().split('\n').filter((l) => l.includes('policy reload refused')).at(-1)!;
      assert.match(refusal, problem);
      assert.equal(gw.policy.current().version, v2, 'the refused set replaced the good one');
      assert.equal(await attempt(s, 'env'), 'allowed', 'calls keep the last good decision');
      const events = await eventually('the refused reload in the audit', async () => {
        const ev = await auditAfter(gw, mark);
        return reloads(ev).length > 0 ? ev : undefined;
      });
      const [reload] = reloads(events);
      assert.equal(reload?.outcome, 'error');
      assert.equal(reload?.errorCode, 'invalid_request');
      assert.equal(reload?.decision?.policyVersion, v2);
      assert.equal(calls(events).at(-1)?.decision?.policyVersion, v2);
    }
  });

  test('a deleted policy file is refused too; writing the first text back restores its version', async () => {
    const refusedBefore = count(gw.logs(), /policy reload refused/);
    unlinkSync(file);
    await eventually('the refusal of a missing file', () => (count(gw.logs(), /policy reload refused/) > refusedBefore ? true : undefined));
    assert.match(gw.logs(), /cannot read the policy file \(ENOENT\)/);
    assert.equal(await attempt(s, 'env'), 'allowed');
    writeFileSync(file, V1);
    await eventually('env to be denied again', async () => ((await attempt(s, 'env')) === 'denied' ? true : undefined));
    // The version is a digest of the texts: the same text gives the same version.
    assert.equal(gw.policy.current().version, v1);
    assert.equal(await attempt(s, 'echo'), 'allowed');
  });
});

describe('RunningGateway.policy.reload() with watching off', () => {
  let dir: string;
  let file: string;
  let gw: TestGateway;
  let s: RawSession;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-reload-direct-'));
    file = join(dir, 'policy.cedar');
    writeFileSync(file, V1);
    gw = await startTestGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, { policy: { files: [file], watch: false } });
    s = new RawSession(gw.url);
    await s.initialize();
  });

  after(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a file change is not picked up until reload() is called; then it applies at once', async () => {
    const v1 = gw.policy.current().version;
    assert.equal(await attempt(s, 'env'), 'denied');
    writeFileSync(file, V2);
    await sleep(500); // five times the watch debounce
    assert.equal(await attempt(s, 'env'), 'denied', 'the file was reloaded although policy.watch is false');
    assert.equal(gw.policy.current().version, v1);

    const mark = await lastAuditId(gw);
    const r = gw.policy.reload();
    assert.ok(r?.ok, JSON.stringify(r));
    assert.equal(r.changed, true);
    assert.equal(r.version, gw.policy.current().version);
    assert.notEqual(r.version, v1);
    assert.equal(await attempt(s, 'env'), 'allowed');
    const reload = await eventually('the reload audit event', async () => reloads(await auditAfter(gw, mark))[0]);
    assert.equal(reload.decision?.policyVersion, r.version);

    // Nothing changed: no swap, no audit event.
    const mark2 = await lastAuditId(gw);
    const same = gw.policy.reload();
    assert.deepEqual(same, { ok: true, changed: false, version: r.version });
    await sleep(100);
    assert.deepEqual(reloads(await auditAfter(gw, mark2)), []);
  });

  test('reload() of an invalid file reports the problems and keeps the set in force', async () => {
    const before = gw.policy.current().version;
    writeFileSync(file, BAD_SCHEMA);
    const r = gw.policy.reload();
    assert.ok(r && !r.ok, JSON.stringify(r));
    assert.ok(r.error.problems.some((p) => /nope/.test(p.message)), JSON.stringify(r.error.problems));
    assert.equal(gw.policy.current().version, before);
    assert.equal(await attempt(s, 'env'), 'allowed');
    assert.match(gw.logs(), /policy reload refused/);
  });
});
