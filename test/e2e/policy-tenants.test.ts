/**
 * The starter policy pack keeps tenants apart, end to end: two agents in two tenants, authenticated with
 * real ES256 JWTs, behind one gateway serving each tenant a real filesystem server and a recording
 * upstream. Each agent sees and uses only its own tenant's read tools; the other tenant's tools and every
 * write are denied (-32008) with a readable reason before anything reaches an upstream; the audit carries
 * the decision (effect, policy ids, policy version). Delegation deeper than two hops is forbidden.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/audit/index.js';
import { auditAfter, bearer, BearerSession, exchangeForm, initializeBody, lastAuditId, post, quiet, recorded, startAuthGateway, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { filesystemStdio, tsFixtureStdio } from '../helpers/servers.js';

const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));
/** The filesystem server's tools annotated readOnlyHint: true; its other four (write_file, edit_file, create_directory, move_file) write. */
const FS_READ = ['directory_tree', 'get_file_info', 'list_allowed_directories', 'list_directory', 'list_directory_with_sizes', 'read_file', 'read_media_file', 'read_multiple_files', 'read_text_file', 'search_files'];
const OTHER_TENANT = "Denied by policy: another tenant's servers and tools are off limits";

const readTools = (tenant: string) => [...FS_READ.map((n) => `fs-${tenant}__${n}`), `rec-${tenant}__echo`, `rec-${tenant}__env`].sort();
const callLines = (file: string) => recorded(file).filter((l) => l.includes('"method":"tools/call"'));

interface RpcError {
  code: number;
  message: string;
  data?: { reason?: string };
}

/** A tools/call that must be denied by policy; returns the error and the raw response text. */
async function deniedCall(s: BearerSession, name: string, args: Record<string, unknown>): Promise<{ error: RpcError; text: string }> {
  const { res, message } = await s.request('tools/call', { name, arguments: args });
  const error = message.error as RpcError | undefined;
  assert.ok(error, `${name} was not refused: ${res.text}`);
  assert.equal(error.code, -32008, res.text);
  assert.equal(error.data?.reason, 'policy_denied');
  return { error, text: res.text };
}

describe('tenants under the starter policy pack', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  const rec = { acme: '', globex: '' };
  const data = { acme: '', globex: '' };
  const sessions: BearerSession[] = [];
  let a: BearerSession;
  let b: BearerSession;

  const session = async (token: string) => {
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    sessions.push(s);
    return s;
  };
  const agentToken = (agent: string, claims: Record<string, unknown> = {}) => idp.sign({ aud: gw.publicUrl, sub: agent, client_id: agent, ...claims });
  const denialsAfter = async (mark: string | undefined): Promise<AuditEvent[]> => (await auditAfter(gw, mark)).filter((e) => e.method === 'tools/call' && e.outcome === 'denied');

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warden-tenants-')));
    idp = await createTestIssuer(dir);
    const servers: Record<string, unknown> = {};
    for (const [tenant, environment] of [['acme', 'dev'], ['globex', 'prod']] as const) {
      data[tenant] = join(dir, tenant);
      mkdirSync(data[tenant]);
      writeFileSync(join(data[tenant], 'note.txt'), `${tenant} confidential note`);
      rec[tenant] = join(dir, `rec-${tenant}.log`);
      const facts = { tenant, trustAnnotations: true, environment };
      servers[`fs-${tenant}`] = { ...filesystemStdio(data[tenant]), ...facts };
      servers[`rec-${tenant}`] = { ...tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec[tenant] }), ...facts };
    }
    gw = await startAuthGateway(servers, {
      auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
      policy: { files: [STARTER] },
      agents: {
        'agent-a': { tenant: 'acme' },
        'agent-b': { tenant: 'globex' },
        'hop-1': { tenant: 'acme' },
        'hop-2': { tenant: 'acme', delegatesFrom: ['hop-1'] },
        'hop-3': { tenant: 'acme', delegatesFrom: ['hop-2'] },
        'hop-4': { tenant: 'acme', delegatesFrom: ['hop-3'] },
      },
    });
    // agent-a states its tenant in the token; agent-b's comes from its registration.
    a = await session(await agentToken('agent-a', { tenant: 'acme' }));
    b = await session(await agentToken('agent-b'));
  });

  after(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("each agent's tools/list shows exactly its own tenant's read tools", async () => {
    const mark = await lastAuditId(gw);
    for (const [s, tenant, other] of [[a, 'acme', 'globex'], [b, 'globex', 'acme']] as const) {
      const { message } = await s.request('tools/list');
      const tools = (message.result as { tools: Array<{ name: string; annotations?: { readOnlyHint?: boolean } }> }).tools;
      assert.deepEqual(tools.map((t) => t.name).sort(), readTools(tenant));
      assert.ok(!tools.some((t) => t.name.includes(other)), `${tenant} sees ${other}'s tools`);
      assert.ok(tools.every((t) => t.annotations?.readOnlyHint === true), 'a tool that is not read-only is listed');
    }
    const lists = (await auditAfter(gw, mark)).filter((e) => e.method === 'tools/list');
    assert.equal(lists.length, 2);
    for (const e of lists) {
      assert.equal(e.decision?.effect, 'allow');
      // Only the agent's own tenant's upstreams are listed at all: the other tenant's are never contacted for it.
      assert.match(e.decision?.reason ?? '', /^12 of 16 tools shown$/);
      assert.equal(e.decision?.policyVersion, gw.policy.current().version);
    }
  });

  test('an agent reads its own tenant', async () => {
    const mark = await lastAuditId(gw);
    assert.equal(await a.call('fs-acme__read_text_file', { path: join(data.acme, 'note.txt') }), 'acme confidential note');
    const ev = (await auditAfter(gw, mark)).find((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.equal(ev?.outcome, 'ok');
    assert.equal(ev?.tenant, 'acme');
    assert.deepEqual(ev?.decision?.policyIds, ['read-tools-own-tenant']);
  });

  test("the other tenant's tools are denied with a readable reason, and its upstream never sees the call", async () => {
    const mark = await lastAuditId(gw);
    const read = await deniedCall(a, 'fs-globex__read_text_file', { path: join(data.globex, 'note.txt') });
    assert.equal(read.error.message, OTHER_TENANT);
    assert.ok(!read.text.includes('globex confidential note'));
    assert.equal((await deniedCall(a, 'rec-globex__echo', { message: 'from-acme-7c1d' })).error.message, OTHER_TENANT);
    assert.equal((await deniedCall(b, 'fs-acme__list_directory', { path: data.acme })).error.message, OTHER_TENANT);
    assert.equal((await deniedCall(b, 'rec-acme__echo', { message: 'from-globex-2e9b' })).error.message, OTHER_TENANT);

    for (const tenant of ['acme', 'globex'] as const) {
      await quiet(rec[tenant]);
      const lines = recorded(rec[tenant]);
      // Each recorder was reached by its own tenant's listing; nothing from the other tenant reached it.
      assert.ok(lines.some((l) => l.includes('"method":"initialize"')), `rec-${tenant} was never reached`);
      assert.deepEqual(callLines(rec[tenant]), [], `rec-${tenant} received a tools/call`);
      assert.ok(!lines.some((l) => l.includes('from-acme-7c1d') || l.includes('from-globex-2e9b')));
    }

    const denials = await denialsAfter(mark);
    assert.deepEqual(
      denials.map((e) => [e.agent, e.tenant, e.upstream, e.target]),
      [
        // The other tenant's upstreams were never listed for these agents: the tool is named as they asked.
        ['agent-a', 'acme', 'fs-globex', 'fs-globex__read_text_file'],
        ['agent-a', 'acme', 'rec-globex', 'rec-globex__echo'],
        ['agent-b', 'globex', 'fs-acme', 'fs-acme__list_directory'],
        ['agent-b', 'globex', 'rec-acme', 'rec-acme__echo'],
      ],
    );
    for (const e of denials) {
      assert.equal(e.errorCode, 'policy_denied');
      assert.equal(e.upstreamStatus ?? null, null, 'a denied call was forwarded to its upstream');
      assert.deepEqual(e.decision, { effect: 'deny', policyIds: ['forbid-other-tenants'], reason: "another tenant's servers and tools are off limits", policyVersion: gw.policy.current().version });
    }
  });

  test('a write tool of its own tenant is denied: no task grants it', async () => {
    const mark = await lastAuditId(gw);
    const w = await deniedCall(a, 'fs-acme__write_file', { path: join(data.acme, 'new.txt'), content: 'x' });
    assert.equal(w.error.message, 'Denied by policy: no policy permits agent-a to call_tool fs-acme__write_file');
    await deniedCall(b, 'fs-globex__create_directory', { path: join(data.globex, 'sub') });
    assert.equal(existsSync(join(data.acme, 'new.txt')), false);
    assert.equal(existsSync(join(data.globex, 'sub')), false);
    const denials = await denialsAfter(mark);
    assert.equal(denials.length, 2);
    for (const e of denials) assert.deepEqual([e.decision?.effect, e.decision?.policyIds, e.decision?.policyVersion], ['deny', [], gw.policy.current().version]);
  });

  test("a tenant's own recorder does record its calls (so the checks above could fail)", async () => {
    assert.equal(await b.call('rec-globex__echo', { message: 'from-globex-own' }), 'from-globex-own');
    await quiet(rec.globex);
    const lines = callLines(rec.globex);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /from-globex-own/);
  });

  test("a token claiming a tenant other than the agent's registration is refused", async () => {
    const r = await post(gw.url, initializeBody(), bearer(await agentToken('agent-a', { tenant: 'globex' })));
    assert.equal(r.status, 401, r.text);
  });

  test('delegation deeper than two hops is forbidden by the starter pack', async () => {
    const origin = new URL(gw.publicUrl).origin;
    let token = await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app-web', tenant: 'acme' });
    const tokens: string[] = [];
    for (const hop of ['hop-1', 'hop-2', 'hop-3', 'hop-4']) {
      const r = await tokenRequest(origin, exchangeForm(token, await agentToken(hop)));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      token = String(r.body.access_token);
      tokens.push(token);
    }
    // hop-3 acts through hop-2 and hop-1 (depth 2): allowed. hop-4 (depth 3): forbidden, even to list.
    const two = await session(tokens[2]!);
    assert.deepEqual((await two.toolNames()).sort(), readTools('acme'));
    assert.equal(await two.call('fs-acme__read_text_file', { path: join(data.acme, 'note.txt') }), 'acme confidential note');
    const three = await session(tokens[3]!);
    assert.deepEqual(await three.toolNames(), []);
    const mark = await lastAuditId(gw);
    const e = await deniedCall(three, 'fs-acme__read_text_file', { path: join(data.acme, 'note.txt') });
    assert.equal(e.error.message, 'Denied by policy: delegation deeper than 2 hops is not allowed');
    const [ev] = await denialsAfter(mark);
    assert.deepEqual(ev?.chain, ['hop-3', 'hop-2', 'hop-1']);
    assert.equal(ev?.user, 'alice');
    assert.deepEqual(ev?.decision?.policyIds, ['forbid-deep-delegation']);
  });
});
