/**
 * Issue 11 item 3: exposed names are unique. Server names that make prefixed names ambiguous stop the start;
 * a name that two upstreams (or one upstream, twice) list at list time is withheld from both, never routed
 * first-wins: the call is refused naming both, the collision and the refusal are audited, and neither upstream
 * receives the call. Names that do not collide keep working. Real server-everything and a recording upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/index.js';
import { auditAfter, lastAuditId, quiet, recorded as recordedLines } from '../helpers/auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { everythingStdio, recorded, tsFixtureStdio } from '../helpers/servers.js';

describe('exposed names are unique', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-names-'));
  const recLog = join(dir, 'rec.log');
  const evLog = join(dir, 'ev.log');
  let gw: TestGateway;
  let s: RawSession;

  before(async () => {
    // Unprefixed names: server-everything and the recorder both have `echo`; the recorder lists `twice` twice.
    gw = await startTestGateway(
      { ev: recorded(everythingStdio(), evLog), rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: recLog, EXTRA_TOOLS: '["twice","twice"]' }) },
      { naming: { prefix: 'never' } },
    );
    s = new RawSession(gw.url);
    await s.initialize();
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const calls = (log: string) => recordedLines(log).filter((l) => !l.startsWith('< ') && l.includes('"method":"tools/call"'));

  test('servers whose prefixes are ambiguous refuse the start, naming both', async () => {
    await assert.rejects(
      startTestGateway({ a: everythingStdio(), a_: everythingStdio() }),
      (e: unknown) => e instanceof ConfigError && /mcpServers\.a_: servers "a" and "a_" give ambiguous tool names/.test(e.message),
    );
  });

  test('a name two upstreams list is withheld from the list; calling it is refused naming both, audited, never forwarded', async () => {
    const mark = await lastAuditId(gw);
    const { message } = await s.request('tools/list');
    const names = ((message.result as { tools: Array<{ name: string }> }).tools ?? []).map((t) => t.name);
    assert.ok(!names.includes('echo'), 'echo is withheld');
    assert.ok(!names.includes('twice'), 'a name one upstream lists twice is withheld too');
    assert.ok(names.includes('get-sum') && names.includes('env'), 'names that do not collide are listed');
    for (const [name, who] of [['echo', /upstreams "ev" and "rec" all expose it/], ['twice', /upstream "rec" lists it 2 times/]] as const) {
      const r = await s.request('tools/call', { name, arguments: { message: 'collide-7f3a' } });
      const error = r.message.error as { code: number; message: string; data: { reason: string } };
      assert.equal(error.data.reason, 'name_collision', JSON.stringify(r.message));
      assert.match(error.message, who);
    }
    const events = await auditAfter(gw, mark);
    const collisions = events.filter((e) => e.method === 'catalog/collision');
    assert.deepEqual(collisions.map((e) => [e.target, e.upstream, e.errorCode]).sort(), [['echo', 'ev, rec', 'name_collision'], ['twice', 'rec', 'name_collision']]);
    const refused = events.filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.deepEqual(refused.map((e) => [e.outcome, e.errorCode]), [['denied', 'name_collision'], ['denied', 'name_collision']]);
    assert.match(gw.logs(), /several upstream items claim one exposed name/);
    await quiet(recLog);
    assert.deepEqual(calls(recLog), []);
    assert.deepEqual(calls(evLog), []);
  });

  test('names that do not collide route to their own upstream', async () => {
    const sum = await s.request('tools/call', { name: 'get-sum', arguments: { a: 2, b: 3 } });
    assert.match(JSON.stringify(sum.message.result), /5/);
    const env = await s.request('tools/call', { name: 'env', arguments: {} });
    assert.ok(env.message.result, JSON.stringify(env.message));
    assert.equal(calls(recLog).length, 1);
    assert.equal(calls(evLog).length, 1);
  });
});
