/**
 * Helpers for the identity tests: a gateway on a port chosen before it starts (so its audience, publicUrl,
 * is known to the token issuers), an MCP session that carries a bearer token, hand-made JWTs for the
 * attacks jose refuses to produce, and checks that a token left no trace in the audit store or the logs.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { AuditEvent } from '../../src/audit/index.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { BASE_HEADERS, parseBody, type RawResponse } from './mcp-http.js';

export const LATEST = '2025-11-25';

export interface AuthGateway extends TestGateway {
  /** The audience every token must carry. */
  publicUrl: string;
  port: number;
}

/**
 * A gateway on an ephemeral port (listen on 0: no pick-then-bind race). Without a configured publicUrl the
 * gateway's audience is the URL it got, which is what tokens are then issued for.
 */
export async function startAuthGateway(mcpServers: Record<string, unknown>, extra: Record<string, unknown>, scheme: 'http' | 'https' = 'http'): Promise<AuthGateway> {
  const gw = await startTestGateway(mcpServers, { listen: '127.0.0.1:0', ...extra });
  const url = new URL(gw.url);
  if (url.protocol !== `${scheme}:`) throw new Error(`the gateway listens on ${gw.url}, not ${scheme}`);
  const publicUrl = typeof extra.publicUrl === 'string' ? extra.publicUrl : gw.url;
  return Object.assign(gw, { publicUrl, port: Number(url.port) });
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A POST with a bounded wait. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await fetch(url, { method: 'POST', headers: { ...BASE_HEADERS, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, messages: parseBody(res.headers.get('content-type'), text) };
}

export const initializeBody = (id: number | string = 0) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'identity-test', version: '0' } },
});

/** A legacy (session) MCP client over raw HTTP that sends a bearer token with every request. */
export class BearerSession {
  sessionId = '';
  private nextId = 1;
  constructor(readonly url: string, public token: string) {}

  async initialize(): Promise<RawResponse> {
    const r = await post(this.url, initializeBody(), bearer(this.token));
    assert.equal(r.status, 200, `initialize: ${r.status} ${r.text}`);
    this.sessionId = r.headers.get('mcp-session-id') ?? '';
    assert.ok(this.sessionId, 'initialize returned no Mcp-Session-Id');
    const n = await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(n.status, 202, n.text);
    return r;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...bearer(this.token), 'mcp-session-id': this.sessionId, 'mcp-protocol-version': LATEST, ...extra };
  }

  post(body: unknown, extra: Record<string, string> = {}): Promise<RawResponse> {
    return post(this.url, body, this.headers(extra));
  }

  async request(method: string, params?: Record<string, unknown>, extra: Record<string, string> = {}): Promise<{ res: RawResponse; message: Record<string, unknown> }> {
    const id = this.nextId++;
    const res = await this.post({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }, extra);
    const message = res.messages.filter((m) => m.id === id).at(-1) ?? {};
    return { res, message };
  }

  /** tools/call; asserts HTTP 200 and a result, returns the text content. */
  async call(name: string, args: Record<string, unknown> = {}): Promise<string> {
    const { res, message } = await this.request('tools/call', { name, arguments: args });
    assert.equal(res.status, 200, res.text);
    assert.ok(message.result, `tools/call ${name} failed: ${res.text}`);
    const content = (message.result as { content?: Array<{ text?: string }> }).content ?? [];
    return content.map((c) => c.text ?? '').join('');
  }

  async toolNames(): Promise<string[]> {
    const { res, message } = await this.request('tools/list');
    assert.equal(res.status, 200, res.text);
    return ((message.result as { tools?: Array<{ name: string }> } | undefined)?.tools ?? []).map((t) => t.name);
  }
}

/** The parameters of a WWW-Authenticate Bearer challenge. */
export function parseChallenge(value: string | null): Record<string, string> {
  assert.ok(value, 'WWW-Authenticate header missing');
  assert.match(value, /^Bearer /);
  const out: Record<string, string> = {};
  for (const m of value.slice(7).matchAll(/([a-z_]+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** Audit events recorded after `afterId` (all when undefined). */
export async function auditAfter(gw: TestGateway, afterId?: string): Promise<AuditEvent[]> {
  return gw.store.audit.tail({ limit: 10_000, ...(afterId ? { afterId } : {}) });
}

export async function lastAuditId(gw: TestGateway): Promise<string | undefined> {
  return (await gw.store.audit.tail({ limit: 1 })).at(-1)?.id;
}

/** The distinctive pieces of a token: the whole, and each JWT segment long enough not to match by chance. */
export function tokenPieces(token: string): string[] {
  return [token, ...token.split('.').filter((p) => p.length >= 16)];
}

/** Asserts that no piece of `token` is in the audit rows, the raw store files, or the gateway's logs. */
export async function assertNoTrace(gw: TestGateway, token: string): Promise<void> {
  const rows = JSON.stringify(await auditAfter(gw));
  const logs = gw.logs();
  const files = readdirSync(gw.dir)
    .filter((f) => f.startsWith('warden.db'))
    .map((f) => join(gw.dir, f))
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f).toString('latin1'))
    .join('\n');
  for (const piece of tokenPieces(token)) {
    assert.ok(!rows.includes(piece), 'the token (or a part of it) is in the audit rows');
    assert.ok(!logs.includes(piece), 'the token (or a part of it) is in the gateway logs');
    assert.ok(!files.includes(piece), 'the token (or a part of it) is in the store files');
  }
}

/** Lines of a recording fixture's log (empty when the upstream never started). */
export function recorded(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0) : [];
}

/**
 * Waits until a recording upstream's log stops growing (a session's upstreams connect in the background
 * after initialize), so a later "the upstream saw nothing" check is not confused by an earlier session.
 */
export async function quiet(file: string, stableMs = 250, maxMs = 5_000): Promise<void> {
  const end = Date.now() + maxMs;
  let last = -1;
  let since = Date.now();
  while (Date.now() < end) {
    const n = recorded(file).length;
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= stableMs) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const b64url = (v: string | Buffer | Record<string, unknown>): string =>
  Buffer.from(typeof v === 'string' || Buffer.isBuffer(v) ? v : JSON.stringify(v)).toString('base64url');

/** A compact JWS assembled by hand (for `alg: none` and other shapes jose will not sign). */
export function handMadeJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  return `${b64url(header)}.${b64url(payload)}.${signature}`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Signs claims with any key and header (the forgeries: another key with a trusted kid, HMAC with a public key). */
export function signWith(key: CryptoKey | Uint8Array, header: { alg: string } & Record<string, unknown>, claims: JWTPayload): Promise<string> {
  const now = nowSeconds();
  return new SignJWT({ iat: now, exp: now + 300, jti: `j-${Math.random().toString(36).slice(2)}`, ...claims }).setProtectedHeader(header).sign(key);
}

/** Form-encoded POST to the token endpoint. */
export async function tokenRequest(origin: string, form: Record<string, string>, path = '/oauth/token'): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(new URL(path, origin), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers };
}

export const TE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const AT_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** A token-exchange form for `subject` acting through `actor`, with extra parameters. */
export function exchangeForm(subject: string, actor: string, extra: Record<string, string> = {}): Record<string, string> {
  return { grant_type: TE_GRANT, subject_token: subject, subject_token_type: AT_TYPE, actor_token: actor, actor_token_type: JWT_TYPE, ...extra };
}
