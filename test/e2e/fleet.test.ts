/**
 * The fleet: three real gateway replicas (`node bin/warden.js serve`) on one PostgreSQL store (a random
 * schema), behind real nginx on loopback running the shipped config (deploy/nginx/mcp-warden.conf) with plain
 * round robin. Sessions (initialize, list, call, GET stream, DELETE) complete whichever replica each request
 * lands on; a session id presented by another principal is refused on every replica (the binding is read from
 * the store); a DELETE ends a session on every replica; kill -9 of a replica under load leaves the sessions
 * running on the others; and afterwards `warden audit verify` finds the shared chain intact.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { assertBuilt, devConfig, runWarden, startWarden, stopChild, tempDir, waitFor, writeConfig, type RunningWarden } from '../helpers/e2e.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { freePort, NGINX, nginxConfig } from '../helpers/nginx.js';
import { everythingStdio } from '../helpers/servers.js';

const DB = process.env.WARDEN_TEST_DATABASE_URL;
const skip = !DB ? 'WARDEN_TEST_DATABASE_URL is not set' : !existsSync(NGINX) ? 'nginx is not installed (.ci/run installs nginx-light)' : false;
const VERSION = '2025-11-25';

interface Reply {
  status: number;
  replica: string;
  body: Record<string, unknown> | undefined;
  headers: Headers;
}

/** POSTs one JSON-RPC message; an SSE answer is read to its last event. */
async function call(url: string, token: string, message: Record<string, unknown>, sid?: string): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`, ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': VERSION } : {}) },
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const data = text.includes('data:') ? text.split('\n').filter((l) => l.startsWith('data:')).at(-1)!.slice(5) : text;
  return { status: res.status, replica: res.headers.get('x-replica') ?? '', body: data.trim() ? (JSON.parse(data) as Record<string, unknown>) : undefined, headers: res.headers };
}

/** Reads a fetch body as server-sent events: each `data:` payload parsed, in order. */
function sseEvents(res: Response): { next: (match: (m: Record<string, unknown>) => boolean, ms: number) => Promise<Record<string, unknown>>; all: Record<string, unknown>[] } {
  const all: Record<string, unknown>[] = [];
  const waiting: { match: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer.slice(0, end).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('\n');
          buffer = buffer.slice(end + 2);
          if (!data.trim()) continue;
          const m = JSON.parse(data) as Record<string, unknown>;
          all.push(m);
          for (const w of waiting.filter((x) => x.match(m))) {
            waiting.splice(waiting.indexOf(w), 1);
            w.resolve(m);
          }
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    all,
    next: (match, ms) => {
      const seen = all.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(all).slice(0, 500)}`)), ms);
        waiting.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
  };
}

class FleetSession {
  sid = '';
  private id = 1;
  readonly replicas = new Set<string>();
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  private note(r: Reply): Reply {
    if (r.replica) this.replicas.add(r.replica);
    return r;
  }

  async initialize(): Promise<void> {
    const r = this.note(await call(this.url, this.token, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'fleet', version: '0' } } }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    this.sid = r.headers.get('mcp-session-id') ?? '';
    assert.ok(this.sid);
    const n = this.note(await call(this.url, this.token, { jsonrpc: '2.0', method: 'notifications/initialized' }, this.sid));
    assert.equal(n.status, 202);
  }

  async request(method: string, params: Record<string, unknown> = {}): Promise<Reply> {
    return this.note(await call(this.url, this.token, { jsonrpc: '2.0', id: this.id++, method, params }, this.sid));
  }

  async ok(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const r = await this.request(method, params);
    assert.equal(r.status, 200, `${method}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.ok(r.body && 'result' in r.body, `${method}: ${JSON.stringify(r.body)}`);
    return r.body.result as Record<string, unknown>;
  }

  /** Opens the GET stream, checks it is an event stream, and closes it. */
  async stream(): Promise<void> {
    const ac = new AbortController();
    const res = await fetch(this.url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${this.token}`, 'mcp-session-id': this.sid, 'mcp-protocol-version': VERSION }, signal: ac.signal });
    if (res.headers.get('x-replica')) this.replicas.add(res.headers.get('x-replica')!);
    assert.equal(res.status, 200, `GET: ${res.status} ${res.status === 200 ? '' : await res.text()}`);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    ac.abort();
    await res.body?.cancel().catch(() => undefined);
  }

  async delete(): Promise<number> {
    const res = await fetch(this.url, { method: 'DELETE', headers: { authorization: `Bearer ${this.token}`, 'mcp-session-id': this.sid, 'mcp-protocol-version': VERSION }, signal: AbortSignal.timeout(10_000) });
    if (res.headers.get('x-replica')) this.replicas.add(res.headers.get('x-replica')!);
    await res.text();
    return res.status;
  }

  /** The echo tool through whichever replica: its answer carries the message. */
  async echo(message: string): Promise<void> {
    const result = await this.ok('tools/call', { name: 'echo', arguments: { message } });
    assert.match(JSON.stringify(result.content), new RegExp(message));
  }
}

describe('three replicas behind nginx round robin, one PostgreSQL store', { skip }, () => {
  const tmp = tempDir('warden-fleet-');
  const schema = `fleet_${Math.random().toString(36).slice(2, 10)}`;
  const replicas: RunningWarden[] = [];
  const configs: string[] = [];
  let nginx: ChildProcess | undefined;
  let url = '';
  let idp: TestIssuer;
  const token = (user: string) => idp.sign({ aud: url, sub: user, client_id: 'fleet-agent' });

  before(async () => {
    assertBuilt();
    idp = await createTestIssuer(tmp.dir);
    const port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    const store = new URL(DB!);
    store.searchParams.set('schema', schema);
    for (let i = 0; i < 3; i++) {
      const dir = join(tmp.dir, `replica-${i}`);
      mkdirSync(dir);
      const config = devConfig(
        { every: everythingStdio() },
        { store: store.href, publicUrl: url, auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, revocation: { maxStalenessSeconds: 30 } },
      );
      configs.push(writeConfig(dir, config));
    }
    // One at a time: the first migrates the schema.
    for (const file of configs) replicas.push(await startWarden(file, { timeoutMs: 60_000 }));
    const ports = replicas.map((r) => Number(new URL(r.url).port));
    const conf = join(tmp.dir, 'nginx.conf');
    writeFileSync(conf, nginxConfig(tmp.dir, port, ports));
    nginx = spawn(NGINX, ['-p', tmp.dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let nginxErr = '';
    nginx.stderr!.on('data', (d) => (nginxErr += String(d)));
    const up = await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 15_000);
    assert.ok(up, `nginx did not come up: ${nginxErr}`);
  });

  after(async () => {
    if (nginx) await stopChild(nginx, 'SIGQUIT');
    await Promise.all(replicas.map((r) => r.stop()));
    if (DB) {
      const admin = new pg.Client({ connectionString: DB });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
    tmp.remove();
  });

  test('30 round-robin sessions complete: initialize, list, call, GET stream, DELETE; a DELETE ends the session on every replica', async () => {
    const alice = await token('alice');
    const sessions = Array.from({ length: 30 }, () => new FleetSession(url, alice));
    // Five at a time: each session's requests interleave with the others' on the balancer.
    for (let i = 0; i < sessions.length; i += 5) {
      await Promise.all(
        sessions.slice(i, i + 5).map(async (s, j) => {
          await s.initialize();
          const { tools } = (await s.ok('tools/list')) as { tools: { name: string }[] };
          assert.ok(tools.some((t) => t.name === 'echo'));
          await s.echo(`hello-${i + j}`);
          await s.stream();
          await s.echo(`again-${i + j}`);
          assert.equal(await s.delete(), 200);
        }),
      );
    }
    const spread = sessions.filter((s) => s.replicas.size >= 2).length;
    assert.ok(spread >= 25, `only ${spread} of 30 sessions were served by more than one replica`);
    // Ended everywhere: each replica, asked directly, no longer knows the sessions.
    for (const r of replicas) {
      for (const s of sessions.slice(0, 5)) {
        const reply = await call(r.url, alice, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, s.sid);
        assert.equal(reply.status, 404, `${r.url} still serves a deleted session`);
      }
    }
  });

  test("another principal's use of a session id is refused on every replica, including ones that never saw it", async () => {
    const [a, b, c] = replicas.map((r) => r.url) as [string, string, string];
    const alice = new FleetSession(a, await token('alice'));
    await alice.initialize();
    const mallory = await token('mallory');
    // b and c have never seen the session: the binding comes from the store.
    for (const target of [b, c]) {
      const r = await call(target, mallory, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, alice.sid);
      assert.equal(r.status, 404, `${target} served alice's session to mallory`);
      const get = await fetch(target, { headers: { accept: 'text/event-stream', authorization: `Bearer ${mallory}`, 'mcp-session-id': alice.sid } });
      assert.equal(get.status, 404);
      await get.text();
      const del = await fetch(target, { method: 'DELETE', headers: { authorization: `Bearer ${mallory}`, 'mcp-session-id': alice.sid } });
      assert.equal(del.status, 404);
    }
    // Mallory's attempts changed nothing: alice goes on, on a replica that now builds the session from the store...
    const onB = new FleetSession(b, alice.token);
    onB.sid = alice.sid;
    await onB.echo('still-alice');
    // ...and once b holds it, mallory is still refused there.
    assert.equal((await call(b, mallory, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, alice.sid)).status, 404);
    assert.equal(await alice.delete(), 200);
  });

  test("server-to-client traffic crosses replicas: the GET stream on one gets messages caused on another; a client's answer reaches the replica that asked", async () => {
    const [a, b] = replicas.map((r) => r.url) as [string, string];
    const carol = await token('carol');
    const headers = (sid: string) => ({ authorization: `Bearer ${carol}`, 'mcp-session-id': sid, 'mcp-protocol-version': VERSION });
    const onA = new FleetSession(a, carol);
    await onA.initialize();
    const ac = new AbortController();
    const get = await fetch(a, { headers: { accept: 'text/event-stream', ...headers(onA.sid) }, signal: ac.signal });
    assert.equal(get.status, 200);
    const stream = sseEvents(get);
    // The upstream's periodic log lines start from a call on b: b's connection has no request in flight when
    // they come, so they belong on the session's GET stream, which is on a.
    const onB = new FleetSession(b, carol);
    onB.sid = onA.sid;
    await onB.ok('tools/call', { name: 'toggle-simulated-logging', arguments: {} });
    const log = await stream.next((m) => m.method === 'notifications/message', 15_000);
    assert.match(JSON.stringify(log.params), /message/);
    await onB.ok('tools/call', { name: 'toggle-simulated-logging', arguments: {} });
    ac.abort();

    // Sampling: a client that can sample calls on a; its answer is POSTed to b, and a's call completes with it.
    const sampler = new FleetSession(a, carol);
    const init = await call(a, carol, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: VERSION, capabilities: { sampling: {} }, clientInfo: { name: 'fleet', version: '0' } } });
    sampler.sid = init.headers.get('mcp-session-id')!;
    const post = await fetch(a, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers(sampler.sid) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'trigger-sampling-request', arguments: { prompt: 'cross-replica?' } } }),
    });
    const events = sseEvents(post);
    const ask = await events.next((m) => m.method === 'sampling/createMessage', 15_000);
    const answer = { jsonrpc: '2.0', id: ask.id, result: { model: 'm', role: 'assistant', content: { type: 'text', text: 'ANSWERED-ON-B' } } };
    const relayed = await call(b, carol, answer, sampler.sid);
    assert.equal(relayed.status, 202);
    const done = await events.next((m) => m.id === 7, 15_000);
    assert.match(JSON.stringify(done.result), /ANSWERED-ON-B/);

    // Cancellation: a long call runs on a; the client's notifications/cancelled lands on b and still stops it.
    const started = Date.now();
    const long = call(a, carol, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 20, steps: 20 } } }, onA.sid);
    await new Promise((r) => setTimeout(r, 1_500));
    const cancel = await call(b, carol, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 8, reason: 'changed my mind' } }, onA.sid);
    assert.equal(cancel.status, 202);
    const ended = await long;
    assert.ok(Date.now() - started < 12_000, `the cancelled call ran on for ${Date.now() - started} ms`);
    assert.ok(!ended.body || !('result' in ended.body), `a cancelled call has no result: ${JSON.stringify(ended.body)}`);
    assert.equal(await onA.delete(), 200);
    assert.equal(await sampler.delete(), 200);
  });

  test('a replica rechecks a session it holds against the store: an end it never heard of takes effect within seconds', async () => {
    const dave = await token('dave');
    const s = new FleetSession(replicas[0]!.url, dave);
    await s.initialize();
    await s.echo('before');
    // Ended behind the replicas' backs: no signal goes out.
    const admin = new pg.Client({ connectionString: DB });
    await admin.connect();
    try {
      const r = await admin.query(`DELETE FROM "${schema}".warden_sessions WHERE id = $1`, [s.sid]);
      assert.equal(r.rowCount, 1);
    } finally {
      await admin.end();
    }
    let status = 0;
    for (const end = Date.now() + 5_000; Date.now() < end && status !== 404; await new Promise((r) => setTimeout(r, 200))) {
      status = (await s.request('tools/list')).status;
    }
    assert.equal(status, 404, 'the replica kept serving a session the store no longer has');
  });

  test('kill -9 of a replica under load: the sessions continue on the others', async () => {
    const bob = await token('bob');
    const sessions = Array.from({ length: 6 }, () => new FleetSession(url, bob));
    await Promise.all(sessions.map((s) => s.initialize()));
    const failures: string[] = [];
    let stop = false;
    let calls = 0;
    const load = sessions.map(async (s, i) => {
      for (let n = 0; !stop; n++) {
        const r = await s.request('tools/call', { name: 'echo', arguments: { message: `load-${i}-${n}` } }).catch((err: Error) => ({ status: 0, body: { error: err.message } }) as unknown as Reply);
        if (r.status === 200 && r.body && 'result' in r.body) calls++;
        else failures.push(`${r.status} ${JSON.stringify(r.body)}`);
      }
    });
    await waitFor(() => calls >= 30, 30_000);
    const victim = replicas[2]!;
    victim.child.kill('SIGKILL');
    await waitFor(() => victim.child.exitCode !== null || victim.child.signalCode !== null, 5_000);
    const atKill = calls;
    await waitFor(() => calls >= atKill + 60, 60_000);
    stop = true;
    await Promise.all(load);
    assert.ok(calls >= atKill + 60, `the sessions stalled after the kill (${calls - atKill} calls since)`);
    // Only requests the killed replica had already taken may fail (at most one per session).
    assert.ok(failures.length <= sessions.length, `too many failures: ${failures.slice(0, 5).join('; ')}`);
    for (const s of sessions) {
      await s.echo('after-kill');
      assert.equal(await s.delete(), 200);
    }
  });

  test('afterwards the shared audit chain verifies', async () => {
    const live = replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    await Promise.all(live.map((r) => r.stop()));
    const r = await runWarden(['audit', 'verify', '--config', configs[0]!], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  });
});
