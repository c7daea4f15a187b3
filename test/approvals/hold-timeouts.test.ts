/**
 * Holds fit clients. The official SDK times a request out after 60 s unless told otherwise, and only a
 * client that asked for progress (and resetTimeoutOnProgress) keeps waiting past its timeout. So: the
 * default hold ends before the SDK's default timeout, with `approval_pending` and the approval id the
 * client can act on; and a client that asked for progress is kept alive by the gateway's notifications for
 * as long as the hold lasts, however short its own timeout.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DEFAULT_REQUEST_TIMEOUT_MSEC } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { approvalServiceFor } from '../../src/cli/services.js';
import { validateConfig } from '../../src/config/index.js';
import { nextPending } from '../helpers/approvals.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));

test("the default hold ends before the SDK's default request timeout", () => {
  const { approvals } = validateConfig({ mcpServers: {} }, 'defaults');
  assert.ok(approvals.holdSeconds * 1000 <= DEFAULT_REQUEST_TIMEOUT_MSEC - 10_000, `holdSeconds ${approvals.holdSeconds} leaves a client no time to see approval_pending`);
  assert.ok(approvals.progressSeconds * 1000 < approvals.holdSeconds * 1000);
});

describe('SDK clients and held calls', () => {
  let gw: TestGateway;
  const approvals = { approvers: ['alice'], holdSeconds: 3, progressSeconds: 1 };
  before(async () => {
    // `echo` is unannotated, so it counts as destructive, and an unset environment counts as prod: held.
    gw = await startTestGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, { policy: { files: [POLICY] }, approvals });
  });
  after(() => gw?.close());

  const connect = async () => {
    const client = new Client({ name: 'sdk-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    return client;
  };

  test('a client that sends no progress token gets approval_pending and the approval id within its timeout', async () => {
    const client = await connect();
    try {
      // A client timeout well above the hold: the gateway, not the client, ends the wait.
      const err = await client.callTool({ name: 'echo', arguments: { message: 'no-progress' } }, undefined, { timeout: 30_000 }).then(
        () => assert.fail('the held call ran without an approval'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, -32009, err.message);
      const id = (err.data as { approvalId?: string } | undefined)?.approvalId;
      assert.ok(id, 'the answer names the approval request');
      assert.equal((await gw.store.approvals.get(id))?.state, 'pending');
    } finally {
      await client.close();
    }
  });

  test('progress notifications keep a client with resetTimeoutOnProgress waiting past its own timeout', async () => {
    const long = await startTestGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, { policy: { files: [POLICY] }, approvals: { ...approvals, holdSeconds: 60 } });
    const client = new Client({ name: 'sdk-client', version: '1.0.0' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(long.url)));
      const progress: string[] = [];
      // The client gives up after 4 s without news; the gateway reports every second while the call is held.
      const held = client.callTool({ name: 'echo', arguments: { message: 'with-progress' } }, undefined, {
        timeout: 4_000,
        resetTimeoutOnProgress: true,
        onprogress: (p) => void progress.push(p.message ?? ''),
      });
      const id = await nextPending(long.store.approvals);
      // Decide only after the client's own timeout would have passed twice over.
      await new Promise((r) => setTimeout(r, 8_000));
      const config = validateConfig({ approvals: { approvers: ['alice'] }, mcpServers: {} }, 'test');
      await approvalServiceFor(config, long.store.approvals)!.decide(id, 'alice', 'approved', null);
      const result = (await held) as { content: { text: string }[] };
      assert.equal(result.content[0]?.text, 'with-progress');
      assert.ok(progress.length >= 4, `only ${progress.length} progress notifications`);
      assert.ok(progress.every((m) => m.includes(id)), 'each notification names the approval request');
    } finally {
      await client.close();
      await long.close();
    }
  });
});
