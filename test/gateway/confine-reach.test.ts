/**
 * Issue 11 item 8: no upstream is contacted before a decision. A caller that may list nothing on an upstream
 * causes no request to it, by any path: initialize (warm-up), every list, a call by its exposed name, a
 * resource read, a completion, logging/setLevel, a stateless request. The refused call is audited with the
 * policy's reason; the upstream process is never even started. The upstream the caller may use works.
 * Real server-memory behind a recording pass-through, and a recording upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditAfter, lastAuditId, quiet, recorded as recordedLines } from '../helpers/auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession, rawPost } from '../helpers/mcp-http.js';
import { memoryStdio, recorded, tsFixtureStdio } from '../helpers/servers.js';

describe('no upstream is contacted before a decision allows it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-reach-'));
  const closedLog = join(dir, 'closed.log');
  const openLog = join(dir, 'open.log');
  let gw: TestGateway;

  before(async () => {
    const policy = join(dir, 'reach.cedar');
    // Everything on `open`; nothing, not even a listing, on `closed`.
    writeFileSync(policy, '@id("open-only") permit (principal, action, resource in Server::"open");');
    gw = await startTestGateway(
      { open: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: openLog }), closed: recorded(memoryStdio(join(dir, 'memory.jsonl')), closedLog) },
      { policy: { files: [policy] } },
    );
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('initialize, lists, calls, reads, completions, setLevel and stateless requests never reach the closed upstream', async () => {
    const s = new RawSession(gw.url);
    await s.initialize();
    const mark = await lastAuditId(gw);
    const { message: tools } = await s.request('tools/list');
    assert.deepEqual(((tools.result as { tools: Array<{ name: string }> }).tools ?? []).map((t) => t.name).sort(), ['open__echo', 'open__env']);
    for (const method of ['prompts/list', 'resources/list', 'resources/templates/list']) await s.request(method);
    const { message: call } = await s.request('tools/call', { name: 'closed__read_graph', arguments: {} });
    const error = call.error as { code: number; message: string };
    assert.equal(error.code, -32008);
    assert.equal(error.message, 'Denied by policy: no policy permits anonymous to list server closed');
    await s.request('resources/read', { uri: 'memory://graph' });
    await s.request('completion/complete', { ref: { type: 'ref/prompt', name: 'closed__p' }, argument: { name: 'a', value: 'b' } });
    await s.request('logging/setLevel', { level: 'debug' });
    const modern = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'closed__read_graph' };
    await rawPost(gw.url, { jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'closed__read_graph', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }, modern);

    const [refused] = (await auditAfter(gw, mark)).filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.deepEqual([refused?.outcome, refused?.upstream, refused?.target, refused?.decision?.effect], ['denied', 'closed', 'closed__read_graph', 'deny']);
    await quiet(openLog);
    assert.deepEqual(recordedLines(closedLog), [], 'the closed upstream was never started, let alone asked');
  });

  test('the upstream the caller may use is listed, called and set up as before', async () => {
    const s = new RawSession(gw.url);
    await s.initialize();
    const { message } = await s.request('tools/call', { name: 'open__echo', arguments: { message: 'reached' } });
    assert.equal((message.result as { content: Array<{ text: string }> }).content[0]?.text, 'reached');
    assert.ok(recordedLines(openLog).some((l) => l.includes('"reached"')));
    assert.deepEqual(recordedLines(closedLog), []);
  });
});
