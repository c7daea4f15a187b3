/**
 * The decide step against real upstreams (the filesystem and everything reference servers, the recording
 * fixture): argument constraints on normalised paths (and what the upstream then receives), approval
 * permits, forbid over permit, trusted and untrusted annotations with glob overrides, filtered prompt and
 * resource lists, fail-closed gateways (no policy; an anonymous caller under the starter pack), and no
 * argument value in an error, a log line or an audit row.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { auditAfter, lastAuditId, quiet, recorded } from '../helpers/auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { everythingStdio, filesystemStdio, tsFixtureStdio } from '../helpers/servers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/policies/decisions.cedar', import.meta.url));
const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));
const FS_READ = ['directory_tree', 'get_file_info', 'list_allowed_directories', 'list_directory', 'list_directory_with_sizes', 'read_file', 'read_media_file', 'read_multiple_files', 'read_text_file', 'search_files'];

interface RpcError {
  code: number;
  message: string;
  data?: { reason?: string };
}

const callLines = (file: string) => recorded(file).filter((l) => l.includes('"method":"tools/call"'));
const names = (r: Record<string, unknown>, key: string, field = 'name') => ((r[key] ?? []) as Array<Record<string, string>>).map((x) => x[field]!).sort();

/** Sends a request and returns its result, failing the test on an error. */
async function ok(s: RawSession, method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { res, message } = await s.request(method, params);
  assert.equal(res.status, 200, res.text);
  assert.ok(message.result, `${method} failed: ${res.text}`);
  return message.result as Record<string, unknown>;
}

/** Sends a request that must fail with `code`; returns the JSON-RPC error. */
async function refused(s: RawSession, code: number, method: string, params?: Record<string, unknown>): Promise<RpcError> {
  const { message } = await s.request(method, params);
  const error = message.error as RpcError | undefined;
  assert.ok(error, `${method} was not refused: ${JSON.stringify(message)}`);
  assert.equal(error.code, code, JSON.stringify(error));
  return error;
}

const denied = (s: RawSession, name: string, args?: unknown) => refused(s, -32008, 'tools/call', { name, ...(args === undefined ? {} : { arguments: args }) });
const text = (r: Record<string, unknown>) => ((r.content ?? []) as Array<{ text?: string }>).map((c) => c.text ?? '').join('');

describe('policy decisions with fixture policies and real upstreams', () => {
  let dir: string;
  let root: string;
  let rec: string;
  let gw: TestGateway;
  let s: RawSession;

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warden-decide-')));
    root = join(dir, 'root');
    mkdirSync(join(root, 'agent-a'), { recursive: true });
    mkdirSync(join(root, 'agent-b'));
    rec = join(dir, 'rec.log');
    const policyFile = join(dir, 'decisions.cedar');
    writeFileSync(policyFile, readFileSync(FIXTURE, 'utf8').replaceAll('{{ROOT}}', root));
    gw = await startTestGateway(
      {
        fs: { ...filesystemStdio(root), trustAnnotations: true, environment: 'dev' },
        rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }),
        ev: everythingStdio(),
        untrusted: tsFixtureStdio('recording-upstream.ts'),
        overridden: { ...tsFixtureStdio('recording-upstream.ts'), tools: { 'ech?': { access: 'read' } } },
      },
      // `amount` is declared as a decimal: its value is parsed by the schema check (see the last test).
      { policy: { files: [policyFile], arguments: { path: 'String', paths: 'Set<String>', amount: 'decimal' } } },
    );
    s = new RawSession(gw.url);
    await s.initialize();
  });

  after(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('tools/list shows exactly what the policy permits', async () => {
    const listed = names(await ok(s, 'tools/list'), 'tools');
    const fs = FS_READ.filter((n) => n !== 'get_file_info').concat('write_file').map((n) => `fs__${n}`);
    // fs: read tools minus the forbidden one, plus write_file (its permit admits listings); rec: echo and the
    // approval-gated env; untrusted: nothing (annotations not trusted, so every tool is a write); overridden:
    // echo only (the `ech?` override makes it read); ev: no tool is permitted.
    assert.deepEqual(listed, [...fs, 'overridden__echo', 'rec__echo', 'rec__env'].sort());
  });

  describe('argument constraints on normalised paths', () => {
    test('write_file under <root>/agent-a/ is allowed and the file is written', async () => {
      const r = await ok(s, 'tools/call', { name: 'fs__write_file', arguments: { path: join(root, 'agent-a', 'ok.txt'), content: 'hello' } });
      assert.notEqual(r.isError, true, JSON.stringify(r));
      assert.equal(readFileSync(join(root, 'agent-a', 'ok.txt'), 'utf8'), 'hello');
    });

    test('a path that climbs out of agent-a is judged where it lands: denied, nothing written', async () => {
      for (const path of [`${root}/agent-a/../agent-b/x.txt`, `${root}/agent-a/sub/../../agent-b/x.txt`]) {
        const e = await denied(s, 'fs__write_file', { path, content: 'intruder' });
        assert.equal(e.data?.reason, 'policy_denied');
        assert.match(e.message, /^Denied by policy: no policy permits anonymous to call_tool fs__write_file/);
      }
      assert.equal(existsSync(join(root, 'agent-b', 'x.txt')), false, 'the denied write reached the file system');
    });

    test('./ and // are normalised: allowed inside, and the upstream receives the normalised path', async () => {
      const r = await ok(s, 'tools/call', { name: 'fs__write_file', arguments: { path: `${root}//agent-a/./n.txt`, content: 'norm' } });
      assert.notEqual(r.isError, true, JSON.stringify(r));
      assert.equal(readFileSync(join(root, 'agent-a', 'n.txt'), 'utf8'), 'norm');

      assert.equal(text(await ok(s, 'tools/call', { name: 'rec__echo', arguments: { message: 'norm', path: '/data//agent-a/./x/../y.txt' } })), 'norm');
      await quiet(rec);
      const sent = callLines(rec).map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as { params: { arguments: Record<string, unknown> } });
      assert.equal(sent.length, 1);
      assert.deepEqual(sent[0]!.params.arguments, { message: 'norm', path: '/data/agent-a/y.txt' });
    });

    test('the recording upstream never sees a denied call', async () => {
      await denied(s, 'rec__echo', { message: 'escape', path: '/data/agent-a/../agent-b/y.txt' });
      await denied(s, 'rec__echo', { message: 'no-path' });
      await quiet(rec);
      assert.equal(callLines(rec).length, 1, callLines(rec).join('\n'));
      assert.ok(!recorded(rec).some((l) => l.includes('escape') || l.includes('no-path')));
    });

    test('a call without arguments is judged as a call, not as a listing', async () => {
      await denied(s, 'fs__write_file');
    });

    test('a path that is not a string is refused by the schema check, with a clear message', async () => {
      const e = await denied(s, 'fs__write_file', { path: 987654321, content: 'x' });
      assert.match(e.message, /does not fit the policy schema/);
      assert.match(e.message, /path/);
      assert.match(e.message, /expected string, got number/);
      assert.ok(!e.message.includes('987654321'), e.message);
      const e2 = await denied(s, 'fs__read_file', ['not', 'an', 'object']);
      assert.match(e2.message, /arguments must be an object/);
    });
  });

  test('an @approval permit yields approval_required (-32009) and the upstream sees nothing', async () => {
    const mark = await lastAuditId(gw);
    const before = callLines(rec).length;
    const e = await refused(s, -32009, 'tools/call', { name: 'rec__env', arguments: {} });
    assert.equal(e.data?.reason, 'approval_required');
    assert.match(e.message, /human approval: reading the environment needs a human approval/);
    await quiet(rec);
    assert.equal(callLines(rec).length, before, 'the upstream received a call that needed approval');
    const ev = (await auditAfter(gw, mark)).find((x) => x.method === 'tools/call' && x.outcome !== 'intent');
    assert.equal(ev?.outcome, 'denied');
    assert.equal(ev?.errorCode, 'approval_required');
    assert.deepEqual(ev?.decision, { effect: 'needs-approval', policyIds: ['approve-env'], reason: 'reading the environment needs a human approval', policyVersion: gw.policy.current().version });
  });

  test('forbid beats permit', async () => {
    const mark = await lastAuditId(gw);
    // fs-read permits every read tool, get_file_info included; forbid-file-info applies too, and wins.
    assert.equal(text(await ok(s, 'tools/call', { name: 'fs__read_text_file', arguments: { path: join(root, 'agent-a', 'ok.txt') } })), 'hello');
    const e = await denied(s, 'fs__get_file_info', { path: join(root, 'agent-a', 'ok.txt') });
    assert.equal(e.message, 'Denied by policy: file metadata is off limits');
    const [allowed, forbidden] = (await auditAfter(gw, mark)).filter((x) => x.method === 'tools/call' && x.outcome !== 'intent');
    assert.equal(allowed?.outcome, 'ok');
    assert.deepEqual(allowed?.decision?.policyIds, ['fs-read']);
    assert.equal(forbidden?.outcome, 'denied');
    assert.deepEqual(forbidden?.decision?.policyIds, ['forbid-file-info']);
    assert.equal(forbidden?.decision?.effect, 'deny');
  });

  test('annotations count only where trusted; a tools: glob override makes a tool read', async () => {
    // The recording upstream marks echo readOnlyHint, but `untrusted` does not trust it: a write, denied.
    const e = await denied(s, 'untrusted__echo', { message: 'hi' });
    assert.match(e.message, /no policy permits anonymous to call_tool untrusted__echo/);
    assert.equal(text(await ok(s, 'tools/call', { name: 'overridden__echo', arguments: { message: 'hi' } })), 'hi');
    await denied(s, 'overridden__env');
  });

  test('prompts and resources are filtered; a hidden resource or prompt cannot be used', async () => {
    assert.deepEqual(names(await ok(s, 'prompts/list'), 'prompts'), ['ev__simple-prompt']);
    assert.deepEqual(names(await ok(s, 'resources/list'), 'resources', 'uri'), ['demo://resource/static/document/architecture.md']);
    assert.deepEqual(names(await ok(s, 'resources/templates/list'), 'resourceTemplates'), []);
    const doc = await ok(s, 'resources/read', { uri: 'demo://resource/static/document/architecture.md' });
    assert.ok(Array.isArray(doc.contents) && doc.contents.length > 0);
    const r = await refused(s, -32008, 'resources/read', { uri: 'demo://resource/static/document/features.md' });
    assert.match(r.message, /no policy permits anonymous to read_resource demo:\/\/resource\/static\/document\/features\.md/);
    await refused(s, -32008, 'resources/read', { uri: 'demo://resource/dynamic/text/1' });
    assert.ok(Array.isArray((await ok(s, 'prompts/get', { name: 'ev__simple-prompt' })).messages));
    await refused(s, -32008, 'prompts/get', { name: 'ev__args-prompt', arguments: { city: 'Oslo' } });
  });

  test('no argument value or secret appears in an error, the logs or the audit rows', async () => {
    const secrets = ['SECRET-PATH-7f3a', 'sk-live-CONTENT-9b1c', 'tok-SECRET-55e1'];
    const e1 = await denied(s, 'fs__write_file', { path: `${root}/agent-b/SECRET-PATH-7f3a.txt`, content: 'sk-live-CONTENT-9b1c' });
    const e2 = await refused(s, -32009, 'tools/call', { name: 'rec__env', arguments: { token: 'tok-SECRET-55e1' } });
    const e3 = await denied(s, 'fs__write_file', { path: 987654321, content: 'sk-live-CONTENT-9b1c' });
    const rows = JSON.stringify(await auditAfter(gw));
    const logs = gw.logs();
    for (const v of [...secrets, '987654321']) {
      for (const e of [e1, e2, e3]) assert.ok(!JSON.stringify(e).includes(v), `${v} is in an error: ${JSON.stringify(e)}`);
      assert.ok(!logs.includes(v), `${v} is in the gateway logs`);
      assert.ok(!rows.includes(v), `${v} is in the audit rows`);
    }
  });

  test('the value of an extension-typed argument stays out of the error and the audit reason', async () => {
    const mark = await lastAuditId(gw);
    const e = await denied(s, 'rec__echo', { message: 'm', path: '/data/agent-a/q', amount: 'sk-live-AMOUNT-42' });
    assert.match(e.message, /amount/);
    const reason = (await auditAfter(gw, mark)).find((x) => x.method === 'tools/call' && x.outcome !== 'intent')?.decision?.reason ?? '';
    assert.ok(!e.message.includes('sk-live-AMOUNT-42'), `the argument value is in the error: ${e.message}`);
    assert.ok(!reason.includes('sk-live-AMOUNT-42'), `the argument value is in the audit reason: ${reason}`);
  });
});

describe('fail closed', () => {
  const dirs: string[] = [];
  const gateways: TestGateway[] = [];
  const temp = () => {
    const d = realpathSync(mkdtempSync(join(tmpdir(), 'warden-closed-')));
    dirs.push(d);
    return d;
  };

  after(async () => {
    for (const g of gateways) await g.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('without a policy every call is denied, every list is empty, and the gateway stays up', async () => {
    const rec = join(temp(), 'rec.log');
    const gw = await startTestGateway({ rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }) }, { policy: undefined });
    gateways.push(gw);
    assert.match(gw.logs(), /no policy files are configured/);
    const s = new RawSession(gw.url);
    await s.initialize();
    assert.deepEqual(names(await ok(s, 'tools/list'), 'tools'), []);
    const e = await denied(s, 'echo', { message: 'hi' });
    assert.equal(e.message, 'Denied by policy: no policy permits anonymous to list server rec');
    await denied(s, 'env');
    assert.deepEqual(await ok(s, 'ping'), {});
    const again = new RawSession(gw.url);
    assert.equal((await again.initialize()).status, 200);
    assert.deepEqual(names(await ok(again, 'tools/list'), 'tools'), []);
    await quiet(rec);
    // No decision allowed anything on it, so the upstream was never started, let alone listed (issue 11 item 8).
    assert.deepEqual(recorded(rec), [], 'the recorder was never contacted');
  });

  test('an anonymous caller (no tenant) sees and uses nothing under the starter pack', async () => {
    const d = temp();
    writeFileSync(join(d, 'note.txt'), 'acme data');
    const gw = await startTestGateway(
      {
        fs: { ...filesystemStdio(d), tenant: 'acme', trustAnnotations: true, environment: 'dev' },
        ev: { ...everythingStdio(), trustAnnotations: true, environment: 'dev' },
      },
      { policy: { files: [STARTER] } },
    );
    gateways.push(gw);
    const s = new RawSession(gw.url);
    await s.initialize();
    for (const [method, key] of [['tools/list', 'tools'], ['prompts/list', 'prompts'], ['resources/list', 'resources']] as const) {
      assert.deepEqual(names(await ok(s, method), key), [], method);
    }
    const e = await denied(s, 'fs__read_file', { path: join(d, 'note.txt') });
    assert.ok(!e.message.includes('acme data'));
    await denied(s, 'ev__echo', { message: 'hi' });
    await refused(s, -32008, 'resources/read', { uri: 'demo://resource/static/document/architecture.md' });
  });
});
