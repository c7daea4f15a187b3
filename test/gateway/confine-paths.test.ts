/**
 * Issue 11 item 2: paths and URIs are canonical before the decision and forwarded in that form. A policy that
 * forbids `<data>/secret/*` also catches `secret/s.txt`, `pub/../secret/s.txt`, a symlink into it, any
 * element of `paths`, a move's destination, and decomposed Unicode; a forbidden resource is not reachable by
 * another spelling of its URI; an ambiguous spelling is refused. Each refusal is audited and never reaches the
 * upstream (real server-filesystem and server-everything behind a recording pass-through); the allowed
 * calls work, and the upstream receives the canonical form that was decided.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditAfter, lastAuditId, quiet, recorded as recordedLines } from '../helpers/auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { everythingStdio, filesystemStdio, recorded } from '../helpers/servers.js';

interface Reply {
  result?: { content?: Array<{ text?: string }>; contents?: Array<{ text?: string; uri?: string }>; isError?: boolean };
  error?: { code: number; message: string; data?: { reason?: string } };
}

describe('canonical paths and URIs, decided and forwarded', () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'warden-paths-')));
  const data = join(base, 'data');
  const fsLog = join(base, 'fs.log');
  const evLog = join(base, 'ev.log');
  let gw: TestGateway;
  let s: RawSession;

  before(async () => {
    mkdirSync(join(data, 'pub'), { recursive: true });
    mkdirSync(join(data, 'secret'), { recursive: true });
    writeFileSync(join(data, 'pub', 'a.txt'), 'public a');
    writeFileSync(join(data, 'pub', 'b.txt'), 'public b');
    writeFileSync(join(data, 'pub', 'caf\u00e9.txt'), 'cafe note');
    writeFileSync(join(data, 'secret', 's.txt'), 'TOP-SECRET');
    symlinkSync(join(data, 'secret'), join(data, 'pub', 'link'));
    const policy = join(base, 'paths.cedar');
    writeFileSync(
      policy,
      `@id("all") permit (principal, action, resource);
@id("no-secret") @reason("the secret directory is off limits")
forbid (principal, action == Action::"call_tool", resource) when { context.arguments has path && context.arguments.path like "${data}/secret/*" };
@id("no-cafe") @reason("not that note")
forbid (principal, action == Action::"call_tool", resource) when { context.arguments has path && context.arguments.path == "${data}/pub/caf\u00e9.txt" };
@id("no-instructions") @reason("not that document")
forbid (principal, action == Action::"read_resource", resource) when { resource.uri == "demo://resource/static/document/instructions.md" };`,
    );
    gw = await startTestGateway({ fs: recorded(filesystemStdio(data), fsLog), ev: recorded(everythingStdio(), evLog) }, { policy: { files: [policy] } });
    s = new RawSession(gw.url);
    await s.initialize();
  });

  after(async () => {
    await gw?.close();
    rmSync(base, { recursive: true, force: true });
  });

  const call = async (name: string, args: Record<string, unknown>): Promise<Reply> => (await s.request('tools/call', { name, arguments: args })).message as Reply;
  const read = async (uri: string): Promise<Reply> => (await s.request('resources/read', { uri })).message as Reply;
  const sentTo = (log: string, method: string) =>
    recordedLines(log)
      .filter((l) => !l.startsWith('< ') && l.includes(`"method":"${method}"`))
      .map((l) => JSON.parse(l) as { params: { name?: string; uri?: string; arguments?: Record<string, unknown> } });

  test('every spelling of a forbidden path is refused by the forbid, audited, and never forwarded', async () => {
    const mark = await lastAuditId(gw);
    const attacks: Array<[string, Record<string, unknown>]> = [
      ['fs__read_text_file', { path: 'secret/s.txt' }],
      ['fs__read_text_file', { path: 'pub/../secret/s.txt' }],
      ['fs__read_text_file', { path: `${data}/pub/../secret/s.txt` }],
      ['fs__read_text_file', { path: `${data}//secret/./s.txt` }],
      ['fs__read_text_file', { path: `${data}/pub/link/s.txt` }],
      ['fs__read_multiple_files', { paths: ['pub/a.txt', 'pub/link/s.txt'] }],
      ['fs__move_file', { source: 'pub/a.txt', destination: 'secret/a.txt' }],
      ['fs__read_text_file', { path: 'pub/cafe\u0301.txt' }],
    ];
    for (const [name, args] of attacks) {
      const r = await call(name, args);
      assert.equal(r.error?.code, -32008, `${name} ${JSON.stringify(args)}: ${JSON.stringify(r)}`);
      assert.match(r.error!.message, /off limits|not that note/);
      assert.doesNotMatch(JSON.stringify(r), /TOP-SECRET/);
    }
    const events = (await auditAfter(gw, mark)).filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.equal(events.length, attacks.length);
    for (const e of events) {
      assert.equal(e.outcome, 'denied');
      assert.ok(e.decision?.policyIds.includes('no-secret') || e.decision?.policyIds.includes('no-cafe'), JSON.stringify(e.decision));
      assert.equal(e.upstreamStatus ?? null, null);
    }
    await quiet(fsLog);
    assert.deepEqual(sentTo(fsLog, 'tools/call'), [], 'the upstream received none of them');
  });

  test('the allowed calls work, and the upstream receives the canonical (absolute, resolved, NFC) form that was decided', async () => {
    const r = await call('fs__read_text_file', { path: 'pub/./a.txt' });
    assert.equal(r.result?.content?.[0]?.text, 'public a');
    const both = await call('fs__read_multiple_files', { paths: ['pub/a.txt', `${data}/pub/x/../b.txt`] });
    assert.match(both.result?.content?.map((c) => c.text).join('') ?? '', /public a[\s\S]*public b/);
    const sent = sentTo(fsLog, 'tools/call');
    assert.deepEqual(sent.map((m) => m.params.arguments), [{ path: join(data, 'pub', 'a.txt') }, { paths: [join(data, 'pub', 'a.txt'), join(data, 'pub', 'b.txt')] }]);
  });

  test('a forbidden resource is refused under every spelling of its URI; an ambiguous URI is refused', async () => {
    const mark = await lastAuditId(gw);
    for (const uri of [
      'DEMO://resource/static/document/instructions.md',
      'demo://resource/static/x/../document/instructions.md',
      'demo://resource/static/document/%69nstructions.md',
      'demo://resource/static/./document/instructions.md',
    ]) {
      const r = await read(uri);
      assert.equal(r.error?.code, -32008, `${uri}: ${JSON.stringify(r)}`);
      assert.match(r.error!.message, /not that document/);
    }
    const ambiguous = await read('file:///data/pub%2F..%2Fsecret/s.txt');
    assert.equal(ambiguous.error?.code, -32008);
    assert.match(ambiguous.error!.message, /encoded "\/"/);
    const events = (await auditAfter(gw, mark)).filter((e) => e.method === 'resources/read');
    assert.equal(events.length, 5);
    assert.ok(events.slice(0, 4).every((e) => e.target === 'demo://resource/static/document/instructions.md' && e.decision?.policyIds[0] === 'no-instructions'));
    assert.equal(events[4]?.decision?.effect, 'deny');
    await quiet(evLog);
    assert.deepEqual(sentTo(evLog, 'resources/read'), [], 'the upstream received none of them');
  });

  test('an allowed resource read by another spelling reaches the upstream in canonical form', async () => {
    const r = await read('DEMO://resource/static/x/../document/architecture.md');
    assert.ok(r.result?.contents?.[0]?.text, JSON.stringify(r));
    assert.deepEqual(sentTo(evLog, 'resources/read').map((m) => m.params.uri), ['demo://resource/static/document/architecture.md']);
  });
});
