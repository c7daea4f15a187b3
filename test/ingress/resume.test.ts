/**
 * Issue 15 item 3: 2025-11-25 resumability through the gateway. A session's POST stream opens with a
 * priming event (an id and a `retry`), every event has an id; a client whose connection drops mid-call
 * reconnects with GET and Last-Event-ID and gets what it missed, then the rest, the result included.
 * Another principal's session cannot resume it, and an id the gateway never issued is not found. Real JWTs,
 * real server-everything (its long-running operation reports progress while it runs).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BearerSession, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { BASE_HEADERS } from '../helpers/mcp-http.js';
import { everythingStdio } from '../helpers/servers.js';

interface SseEvent {
  id?: string;
  retry?: string;
  data: string;
}

/** Reads SSE events from a response body until `stop` says so (then drops the connection) or it ends. */
async function readEvents(res: Response, stop: (events: SseEvent[]) => boolean, controller?: AbortController): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let at: number;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const e: SseEvent = { data: '' };
        for (const line of block.split('\n')) {
          const [k, ...v] = line.split(':');
          const value = v.join(':').trimStart();
          if (k === 'id') e.id = value;
          else if (k === 'retry') e.retry = value;
          else if (k === 'data') e.data += value;
        }
        events.push(e);
        if (stop(events)) {
          controller?.abort();
          return events;
        }
      }
    }
  } catch {
    // aborted
  }
  return events;
}

describe('resumable streams (2025-11-25)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-resume-'));
  let idp: TestIssuer;
  let gw: AuthGateway;
  const session = async (user: string) => {
    const s = new BearerSession(gw.url, await idp.sign({ aud: gw.publicUrl, sub: user, client_id: 'app' }));
    await s.initialize();
    return s;
  };

  before(async () => {
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway({ ev: everythingStdio() }, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, policy: { files: [ALLOW_ALL_POLICY] }, naming: { prefix: 'never' } });
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a dropped POST stream is resumed with Last-Event-ID, from the event after it to the result', async () => {
    const alice = await session('alice');
    const bob = await session('bob');
    const controller = new AbortController();
    const body = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 6 }, _meta: { progressToken: 'p' } } };
    const res = await fetch(gw.url, { method: 'POST', headers: { ...BASE_HEADERS, ...alice.headers() }, body: JSON.stringify(body), signal: controller.signal });
    assert.equal(res.status, 200);
    // The priming event, then one progress event: then the connection drops.
    const first = await readEvents(res, (es) => es.length >= 2, controller);
    assert.equal(first[0]!.data, '', 'the first event primes the stream');
    assert.match(first[0]!.id ?? '', /^[A-Za-z0-9_-]+:0$/);
    assert.equal(first[0]!.retry, '1000');
    const lastId = first[1]!.id!;
    assert.match(JSON.parse(first[1]!.data).method, /notifications\/progress/);

    // Not for bob's session, nor for an id the gateway never issued.
    const stolen = await fetch(gw.url, { headers: { accept: 'text/event-stream', ...bob.headers(), 'last-event-id': lastId } });
    assert.equal(stolen.status, 404);
    await stolen.body?.cancel();
    const forged = await fetch(gw.url, { headers: { accept: 'text/event-stream', ...alice.headers(), 'last-event-id': 'nope:1' } });
    assert.equal(forged.status, 404);
    await forged.body?.cancel();

    const resumed = await fetch(gw.url, { headers: { accept: 'text/event-stream', ...alice.headers(), 'last-event-id': lastId } });
    assert.equal(resumed.status, 200);
    const rest = await readEvents(resumed, (es) => es.some((e) => e.data.includes('"id":7')));
    const messages = rest.map((e) => JSON.parse(e.data) as { id?: number; method?: string; result?: unknown });
    assert.ok(!rest.some((e) => e.id === lastId), 'nothing before the given id is sent again');
    assert.ok(messages.some((m) => m.method === 'notifications/progress'), 'progress it missed or that came after');
    const final = messages.find((m) => m.id === 7);
    assert.match(JSON.stringify(final?.result), /Long running operation completed/);
    const seqs = rest.map((e) => Number(e.id!.split(':')[1]));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'events arrive in order');
    assert.equal(seqs[0], Number(lastId.split(':')[1]) + 1, 'the first resumed event is the one after Last-Event-ID');
  });
});
