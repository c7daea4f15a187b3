import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpClientTransport } from '../../src/upstream/http-transport.js';

// The transport converts its URL to request options once (not per call): path, query, port and userinfo
// must still reach the upstream exactly as the URL says.
describe('HttpClientTransport request target', () => {
  let server: Server;
  let port = 0;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += String(c)));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers });
        const msg = JSON.parse(body) as { id: number };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { ok: true } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function call(url: string): Promise<unknown> {
    const t = new HttpClientTransport(new URL(url));
    const got = new Promise((resolve) => (t.onmessage = resolve));
    await t.send({ jsonrpc: '2.0', id: 7, method: 'ping' });
    const m = await got;
    await t.close();
    return m;
  }

  test('path and query go as given, on every call', async () => {
    seen.length = 0;
    assert.deepEqual(await call(`http://127.0.0.1:${port}/a/mcp?x=1&y=%20`), { jsonrpc: '2.0', id: 7, result: { ok: true } });
    await call(`http://127.0.0.1:${port}/a/mcp?x=1&y=%20`);
    assert.deepEqual(seen.map((s) => s.url), ['/a/mcp?x=1&y=%20', '/a/mcp?x=1&y=%20']);
    assert.equal(seen[0]?.headers.authorization, undefined);
  });

  test('userinfo in the URL is sent as Basic credentials, percent-decoded (as node:http does for a URL)', async () => {
    seen.length = 0;
    await call(`http://us%3Aer:p%40ss@127.0.0.1:${port}/mcp`);
    assert.equal(seen[0]?.headers.authorization, `Basic ${Buffer.from('us:er:p@ss').toString('base64')}`);
  });
});
