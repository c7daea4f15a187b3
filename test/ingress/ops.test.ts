/**
 * The operations endpoints: /livez, /readyz and /healthz, and /metrics (Prometheus text). Attacks: scrape
 * without the token, with a wrong one; blow up label cardinality with invented method names; publish the
 * metrics beyond loopback without protection (the start is refused).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricsToken } from '../../src/cli/start-gateway.js';
import { validateConfig } from '../../src/config/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const get = async (url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string | null }> => {
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
};

describe('/livez, /readyz, /healthz and /metrics on the gateway listener (loopback)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts') }, { metrics: { enabled: true } });
  });
  after(async () => {
    await gw?.close();
  });

  test('live, ready with each check, and healthz as before', async () => {
    assert.deepEqual(JSON.parse((await get(new URL('/livez', gw.url).href)).text), { status: 'ok' });
    const ready = await get(new URL('/readyz', gw.url).href);
    assert.equal(ready.status, 200);
    const body = JSON.parse(ready.text) as { status: string; checks: Record<string, { ok: boolean }> };
    assert.equal(body.status, 'ready');
    assert.deepEqual(Object.keys(body.checks).sort(), ['audit', 'revocations', 'store']);
    assert.ok(Object.values(body.checks).every((c) => c.ok));
    const health = await get(new URL('/healthz', gw.url).href);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.text).status, 'ok');
  });

  test('requests by method, outcome and upstream; decisions; latency; bounded labels', async () => {
    const s = new RawSession(gw.url);
    await s.initialize();
    await s.request('tools/call', { name: 'echo', arguments: { message: 'm' } });
    await s.request('zzz/evil-method-name', {});
    const m = await get(new URL('/metrics', gw.url).href);
    assert.equal(m.status, 200);
    assert.match(m.type ?? '', /^text\/plain/);
    assert.match(m.text, /^warden_requests_total\{method="tools\/call",outcome="ok",upstream="bad"\} 1$/m);
    assert.match(m.text, /^warden_decisions_total\{effect="allow"\} \d+$/m);
    assert.match(m.text, /^warden_request_duration_seconds_bucket\{le="\+Inf",method="tools\/call",outcome="ok"\} 1$/m);
    assert.match(m.text, /^warden_audit_append_lag_seconds_count \d+$/m);
    assert.match(m.text, /^warden_audit_intents_total 1$/m);
    assert.match(m.text, /^warden_ready 1$/m);
    assert.match(m.text, /^warden_store_up 1$/m);
    assert.match(m.text, /^warden_upstream_processes \d+$/m);
    assert.match(m.text, /^warden_sessions \d+$/m);
    assert.doesNotMatch(m.text, /evil-method-name/, 'an invented method is not a label value');
    assert.match(m.text, /method="other"/);
  });
});

describe('/metrics with a token, on a listener of its own', () => {
  let gw: TestGateway;
  const token = 'metrics-token-' + 'x'.repeat(20);
  before(async () => {
    process.env.WARDEN_TEST_METRICS_TOKEN = token;
    gw = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts') }, { metrics: { enabled: true, listen: '127.0.0.1:0', tokenEnv: 'WARDEN_TEST_METRICS_TOKEN' } });
  });
  after(async () => {
    delete process.env.WARDEN_TEST_METRICS_TOKEN;
    await gw?.close();
  });

  test('only the bearer token opens it; it is not on the gateway listener', async () => {
    const url = gw.metricsUrl!;
    assert.ok(url, 'the metrics listener URL is known');
    assert.notEqual(new URL(url).port, new URL(gw.url).port);
    assert.equal((await get(url)).status, 401);
    assert.equal((await get(url, { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await get(url, { authorization: `Bearer ${token}x` })).status, 401);
    const ok = await get(url, { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    assert.doesNotMatch(ok.text, new RegExp(token));
    assert.equal((await get(new URL('/metrics', gw.url).href, { authorization: `Bearer ${token}` })).status, 404);
    assert.equal((await get(new URL('/readyz', url).href)).status, 200, 'readiness is on the metrics listener too');
  });
});

describe('metrics protection at start', () => {
  const cfg = (metrics: Record<string, unknown>, listen = '0.0.0.0:7400') => validateConfig({ listen, auth: { mode: 'none' }, mcpServers: {}, metrics }, 'test.yaml');

  test('beyond loopback on the gateway listener without a token: refused', () => {
    assert.throws(() => metricsToken(cfg({ enabled: true }), {}), /metrics: served on the gateway listener beyond loopback/);
    assert.equal(metricsToken(cfg({ enabled: true }, '127.0.0.1:7400'), {}), undefined);
    assert.equal(metricsToken(cfg({ enabled: true, listen: '10.0.0.5:9464' }), {}), undefined);
    assert.equal(metricsToken(cfg({ enabled: false }), {}), undefined);
  });

  test('a token variable that is unset or short: refused', () => {
    assert.throws(() => metricsToken(cfg({ enabled: true, tokenEnv: 'M_TOKEN' }), {}), /M_TOKEN/);
    assert.throws(() => metricsToken(cfg({ enabled: true, tokenEnv: 'M_TOKEN' }), { M_TOKEN: 'short' }), /at least 16/);
    assert.equal(metricsToken(cfg({ enabled: true, tokenEnv: 'M_TOKEN' }), { M_TOKEN: 'a'.repeat(16) }), 'a'.repeat(16));
  });
});
