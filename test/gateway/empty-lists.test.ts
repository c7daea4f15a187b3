/**
 * A list that hides everything says why, in the log: which principal saw how many of how many, the first
 * item hidden with the policy's reason, and the config change that usually fixes it; once per caller, not
 * on every list. The README's first example (no tenant anywhere, the starter pack) is the case.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { filesystemStdio } from '../helpers/servers.js';

const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));
const data = mkdtempSync(join(tmpdir(), 'warden-empty-'));
let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({ files: filesystemStdio(data) }, { policy: { files: [STARTER] } });
});
after(async () => {
  await gw?.close();
  rmSync(data, { recursive: true, force: true });
});

const warnings = () =>
  gw
    .logs()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; msg: string; agent?: string; shown?: number; total?: number; reason?: string; hint?: string })
    .filter((l) => l.level === 40 && l.shown === 0);

test('an empty list logs who saw 0 of how many, the first reason and the fix, once', async () => {
  const s = new RawSession(gw.url);
  await s.initialize();
  for (let i = 0; i < 3; i++) {
    const { message } = await s.request('tools/list', {});
    assert.deepEqual((message.result as { tools: unknown[] }).tools, []);
  }
  const w = warnings();
  assert.equal(w.length, 1, 'once per caller, not on every list');
  assert.equal(w[0]?.agent, 'anonymous');
  // A server the caller may not list is never contacted for it, so nothing of it is counted.
  assert.equal(w[0]?.total, 0);
  assert.match(w[0]!.msg, /^anonymous \(no tenant\) saw 0 of \d+ tools: server files: no policy permits anonymous to list/);
  assert.match(w[0]!.hint ?? '', /neither agent anonymous nor server files has a tenant/);
});
