/**
 * Attack on `warden policy replay`'s text output: an agent's token carries a `sub` and a `client_id` holding a
 * newline and terminal escapes. Its call is audited (bounded, not escaped: the store keeps what was said);
 * an operator replays a candidate policy set that would deny it. The report must not let those claims clear
 * the screen or print a forged line of their own: every value a token chose is shown through `printable`,
 * as `warden audit tail` and `trace` show it. A real gateway, a real IdP-signed token, a real stdio upstream.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { policyReplay } from '../../src/cli/policy-replay.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { BearerSession, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { tempDir } from '../helpers/e2e.js';

const tmp = tempDir('warden-attack-replay-');
let gw: AuthGateway;
let idp: TestIssuer;

before(async () => {
  idp = await createTestIssuer(tmp.dir);
  gw = await startAuthGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, log: { level: 'error' } });
});
after(async () => {
  await gw?.close();
  tmp.remove();
});

test('a replay report shows control characters from token claims as escapes, never raw', async () => {
  const sub = 'alice\n2026-01-01T00:00:00Z forged-agent for root rec__echo: deny -> allow\u001b[2J';
  const token = await idp.sign({ aud: gw.publicUrl, sub, client_id: 'agent\u001b]0;pwned\u0007\u202e' });
  const s = new BearerSession(gw.url, token);
  await s.initialize();
  assert.equal(await s.call('echo', { message: 'hi' }), 'hi');

  const config = join(tmp.dir, 'replay.yaml');
  writeFileSync(config, stringify({ store: join(gw.dir, 'warden.db'), vault: { masterKeyFile: join(gw.dir, 'master.key') }, policy: { files: [ALLOW_ALL_POLICY] }, mcpServers: { rec: tsFixtureStdio('recording-upstream.ts') } }));
  const candidate = join(tmp.dir, 'deny.cedar');
  writeFileSync(candidate, '@id("deny-all")\nforbid (principal, action, resource);\n');
  const [out, err] = [new PassThrough(), new PassThrough()];
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  err.on('data', (d: Buffer) => (text += d.toString()));
  assert.equal(await policyReplay([candidate], { config, since: '1h' }, { stdout: out, stderr: err }), 0, text);
  assert.match(text, /deny-all/, `the call's change is listed: ${text}`);
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f\u202e]/, 'no control or bidi character reaches the terminal');
  assert.equal(text.split('\n').filter((l) => l.includes('forged-agent')).length, 1);
  assert.ok(!text.split('\n').some((l) => l.startsWith('2026-01-01T00:00:00Z forged-agent')), 'the claim cannot start a line of its own');
  assert.match(text, /alice\\u000a2026-01-01T00:00:00Z forged-agent/);
});
