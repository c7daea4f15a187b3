/**
 * An upstream that puts the credential it was given (a vault secret injected into its environment) into a
 * tool description: the definition is pinned as redacted, and the secret is in no pin, no audit record, no
 * log line and no answer to the client.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { seedVault } from '../helpers/vault.js';

const SECRET = `tok-${randomBytes(12).toString('hex')}`;

describe('tool integrity keeps no secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-integrity-secret-'));
  let gw: TestGateway;
  let client: Client;

  before(async () => {
    const vault = await seedVault(dir, { 'svc/token': SECRET });
    gw = await startTestGateway(
      { leaky: { ...tsFixtureStdio('rugpull-upstream.ts', [], { MODE: 'leaky' }), env: { MODE: 'leaky', API_TOKEN: '${secret:svc/token}' } } },
      { store: vault.store, vault: { masterKeyFile: vault.keyFile } },
    );
    client = new Client({ name: 'secret-test', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the pinned definition, the audit, the logs and the list hold the redacted form only', async () => {
    const listed = await client.listTools();
    const description = listed.tools.find((t) => t.name === 'whoami')?.description ?? '';
    assert.match(description, /Token in use: \[redacted:svc\/token\]/);
    const pins = await gw.store.integrity.list({ upstream: 'leaky' });
    assert.equal(pins.length, 1);
    assert.ok(pins[0]!.definition.includes('[redacted:svc/token]'), pins[0]!.definition);
    for (const p of pins) assert.ok(!JSON.stringify(p).includes(SECRET), 'a pin holds the secret');
    const audit = JSON.stringify(await gw.store.audit.tail({ limit: 200 }));
    assert.ok(audit.includes('integrity/pinned'));
    assert.ok(!audit.includes(SECRET), 'an audit record holds the secret');
    assert.ok(!gw.logs().includes(SECRET), 'a log line holds the secret');
    for (const f of ['warden.db', 'warden.db-wal']) {
      if (existsSync(join(dir, f))) assert.ok(!readFileSync(join(dir, f)).includes(SECRET), `${f} holds the secret in clear`);
    }
  });
});
