/**
 * `warden connect` through the real binary: an SDK client on stdio talks to an OAuth-protected gateway (in
 * process, server-everything behind it) as the agent of a token file, of OAuth client credentials
 * (client_secret_basic) and of a private key (private_key_jwt), against a small token endpoint run here.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt, exportPKCS8, generateKeyPair, jwtVerify, type CryptoKey } from 'jose';
import { revoke } from '../../src/revocation/index.js';
import { assertBuilt, resultText, runWarden, stopChild, tempDir, waitFor, WARDEN_BIN } from '../helpers/e2e.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { everythingStdio, ROOT } from '../helpers/servers.js';

const SECRET = 'correct-horse-battery-staple';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface Connected {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
}

/** A tiny OAuth token endpoint: client credentials with client_secret_basic or private_key_jwt. */
class TokenEndpoint {
  server?: Server;
  url = '';
  issued = 0;
  readonly seenJti = new Set<string>();

  constructor(
    private readonly issuer: TestIssuer,
    private readonly resource: string,
    private readonly keyClients: Record<string, CryptoKey>,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/token`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const form = new URLSearchParams(body);
    const fail = (status: number, error: string): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
    if (req.method !== 'POST' || form.get('grant_type') !== 'client_credentials') return fail(400, 'unsupported_grant_type');
    if (form.get('resource') !== this.resource) return fail(400, 'invalid_target');
    const clientId = await this.authenticate(req, form);
    if (!clientId) return fail(401, 'invalid_client');
    this.issued++;
    const access = await this.issuer.sign({ sub: clientId, client_id: clientId, aud: this.resource, scope: form.get('scope') ?? 'mcp' });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ access_token: access, token_type: 'Bearer', expires_in: 300 }));
  }

  /** The client id when the request authenticates the client, else undefined. */
  private async authenticate(req: IncomingMessage, form: URLSearchParams): Promise<string | undefined> {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic) {
      const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
      return id === 'desktop-app' && secret === SECRET ? id : undefined;
    }
    const clientId = form.get('client_id') ?? '';
    const key = this.keyClients[clientId];
    const assertion = form.get('client_assertion');
    if (!key || form.get('client_assertion_type') !== ASSERTION_TYPE || !assertion) return undefined;
    try {
      const { payload } = await jwtVerify(assertion, key, { issuer: clientId, subject: clientId, audience: this.url, maxTokenAge: '2m', requiredClaims: ['exp', 'jti'] });
      if (this.seenJti.has(payload.jti!)) return undefined; // replayed
      this.seenJti.add(payload.jti!);
      return clientId;
    } catch {
      return undefined;
    }
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe('warden connect: a stdio bridge that authenticates to the gateway as the agent', () => {
  const tmp = tempDir('warden-connect-');
  const connected: Connected[] = [];
  const children: ChildProcess[] = [];
  let issuer: TestIssuer;
  let gw: TestGateway;
  let publicUrl: string;
  let endpoint: TokenEndpoint;
  let keyFile: string;

  before(async () => {
    assertBuilt();
    issuer = await createTestIssuer(tmp.dir);
    gw = await startTestGateway(
      { everything: everythingStdio() },
      // No clock skew, so a token past its exp is refused at once. Port 0: the audience is the URL it gets.
      { listen: '127.0.0.1:0', auth: { issuers: [{ issuer: issuer.issuer, jwksFile: issuer.jwksFile }], clockSkewSeconds: 0 } },
    );
    publicUrl = gw.url;
    const agentKey = await generateKeyPair('ES256', { extractable: true });
    keyFile = join(tmp.dir, 'agent-key.pem');
    writeFileSync(keyFile, await exportPKCS8(agentKey.privateKey), { mode: 0o600 });
    endpoint = new TokenEndpoint(issuer, publicUrl, { 'key-agent': agentKey.publicKey });
    await endpoint.start();
  });

  after(async () => {
    for (const c of connected) await c.client.close().catch(() => undefined);
    for (const child of children) await stopChild(child, 'SIGKILL', 5_000);
    await endpoint?.close();
    await gw?.close();
    tmp.remove();
  });

  function writeToken(name: string, token: string): string {
    const file = join(tmp.dir, name);
    writeFileSync(`${file}.tmp`, `${token}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file); // atomic, as a SPIFFE helper rotates its file
    return file;
  }

  async function connect(args: string[], env: Record<string, string> = {}, sampling = false): Promise<Connected> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [WARDEN_BIN, 'connect', publicUrl, ...args],
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', WARDEN_LOG_LEVEL: 'debug', ...env },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d) => (stderr += String(d)));
    const client = new Client({ name: 'desktop-app-under-test', version: '1.0.0' }, { capabilities: sampling ? { sampling: {} } : {} });
    if (sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, () => ({ model: 'test-model', role: 'assistant', content: { type: 'text', text: 'SAMPLED-BY-DESKTOP' } }));
    }
    const c = { client, transport, stderr: () => stderr };
    connected.push(c);
    await client.connect(transport, { timeout: 15_000 });
    return c;
  }

  async function auditFor(agent: string, method: string): Promise<boolean> {
    return waitFor(async () => (await gw.store.audit.tail({ limit: 200 })).some((e) => e.agent === agent && e.method === method), 5_000);
  }

  /** Spawns `warden connect` directly to see its raw stdout and stderr. */
  function spawnRaw(url: string, args: string[]) {
    const child = spawn(process.execPath, [WARDEN_BIN, 'connect', url, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    const lines: Array<Record<string, unknown>> = [];
    child.stderr.on('data', (d) => (stderr += String(d)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      stdout += line + '\n';
      lines.push(JSON.parse(line) as Record<string, unknown>); // anything but JSON on stdout fails the test
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return { child, lines, exited, stdout: () => stdout, stderr: () => stderr, send: (m: unknown) => child.stdin.write(JSON.stringify(m) + '\n') };
  }

  const initialize = (id: number) => ({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

  test('a token file: tools are listed and called as the agent of the token, and a rotated file is picked up', async () => {
    // No timing: the first token is revoked at the gateway once the file holds the next one, so a bridge that
    // kept sending the old one would be refused (and say so on stderr).
    const first = await issuer.sign({ sub: 'alice', client_id: 'ide-agent', aud: publicUrl });
    const file = writeToken('token.jwt', first);
    const c = await connect(['--token-file', file]);
    const { tools } = await c.client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'), tools.map((t) => t.name).join(', '));
    assert.equal(resultText(await c.client.callTool({ name: 'echo', arguments: { message: 'via connect' } })), 'Echo: via connect');
    const events = await gw.store.audit.tail({ limit: 50 });
    const call = events.find((e) => e.method === 'tools/call' && e.outcome !== 'intent' && e.agent === 'ide-agent');
    assert.ok(call, 'the call is audited as the agent of the token');
    assert.equal(call.user, 'alice');
    assert.equal(call.authMethod, 'oauth-jwt');

    writeToken('token.jwt', await issuer.sign({ sub: 'alice', client_id: 'ide-agent', aud: publicUrl }));
    const deps = { revocations: gw.store.revocations, tasks: gw.store.tasks, tokens: gw.store.tokens, endTask: () => Promise.reject(new Error('no task')) };
    await revoke(deps, { kind: 'token', value: String(decodeJwt(first).jti), by: 'test', foreign: true });
    await gw.revocations.refresh();
    assert.equal(resultText(await c.client.callTool({ name: 'echo', arguments: { message: 'rotated' } })), 'Echo: rotated');
    assert.doesNotMatch(c.stderr(), /refused the credential/, 'the new file was read before the request, not after a 401');
    assert.ok(!c.stderr().includes(first), 'no token in stderr');

    await c.client.close();
    assert.ok(await auditFor('ide-agent', 'session/delete'), 'closing stdin ends the gateway session (DELETE)');
  });

  test('a server-to-client request (sampling) reaches the client and its answer goes back while the call is open', async () => {
    const file = writeToken('sampling.jwt', await issuer.sign({ sub: 'alice', client_id: 'ide-agent', aud: publicUrl }));
    const c = await connect(['--token-file', file], {}, true);
    const r = await c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } }, undefined, { timeout: 15_000 });
    assert.match(resultText(r), /SAMPLED-BY-DESKTOP/);
  });

  test('an expired token: the request fails with an authentication error, and the token is in neither stdout nor stderr', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await issuer.sign({ sub: 'alice', client_id: 'ide-agent', aud: publicUrl, iat: now - 600, exp: now - 300 });
    const raw = spawnRaw(publicUrl, ['--token-file', writeToken('expired.jwt', expired)]);
    raw.send(initialize(1));
    assert.ok(await waitFor(() => raw.lines.length > 0, 10_000), `no answer; stderr: ${raw.stderr()}`);
    const answer = raw.lines[0] as { id: number; error?: { code: number; message: string } };
    assert.equal(answer.id, 1);
    assert.equal(answer.error?.code, -32007);
    assert.match(answer.error?.message ?? '', /authentication to the gateway failed/i);
    raw.child.stdin.end();
    assert.equal(await raw.exited, 0, 'stdin closed: exit 0');
    assert.ok(!raw.stdout().includes(expired), 'no token in stdout');
    assert.ok(!raw.stderr().includes(expired), 'no token in stderr');
    assert.ok(!raw.stderr().includes(expired.split('.')[2]!), 'not even the signature');
    assert.match(raw.stderr(), /has expired/);
  });

  test('client credentials (client_secret_basic, resource = the gateway): works, and the token is cached', async () => {
    const secretFile = join(tmp.dir, 'client-secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const before = endpoint.issued;
    const c = await connect(['--token-url', endpoint.url, '--client-id', 'desktop-app', '--client-secret-file', secretFile, '--scope', 'mcp']);
    assert.equal(resultText(await c.client.callTool({ name: 'echo', arguments: { message: 'cc' } })), 'Echo: cc');
    assert.equal(resultText(await c.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })), 'The sum of 2 and 3 is 5.');
    assert.equal(endpoint.issued - before, 1, 'one token for the whole session');
    assert.ok(await auditFor('desktop-app', 'tools/call'));
    assert.ok(!c.stderr().includes(SECRET), 'no secret in stderr');
  });

  test('client credentials with a wrong secret (from WARDEN_CLIENT_SECRET): the client gets an authentication error', async () => {
    const wrong = 'not-the-secret-123';
    const c = connect(['--token-url', endpoint.url, '--client-id', 'desktop-app'], { WARDEN_CLIENT_SECRET: wrong });
    await assert.rejects(c, /authentication to the gateway failed.*invalid_client/i);
    const conn = connected.at(-1)!;
    assert.ok(!conn.stderr().includes(wrong), 'no secret in stderr');
  });

  test('private_key_jwt: the token endpoint verifies the client assertion against the public key', async () => {
    const before = endpoint.seenJti.size;
    const c = await connect(['--token-url', endpoint.url, '--client-id', 'key-agent', '--private-key', keyFile, '--key-id', 'agent-key-1']);
    assert.equal(resultText(await c.client.callTool({ name: 'echo', arguments: { message: 'pkjwt' } })), 'Echo: pkjwt');
    assert.equal(endpoint.seenJti.size - before, 1);
    assert.ok(await auditFor('key-agent', 'tools/call'));
  });

  test('the gateway unreachable: requests get JSON-RPC errors, the bridge keeps running, exit 0 on stdin close', async () => {
    // Port 1: nothing listens there (a port picked as free could be taken by another test meanwhile).
    const raw = spawnRaw('http://127.0.0.1:1/mcp', ['--token-file', writeToken('any.jwt', await issuer.sign({ sub: 'x', aud: publicUrl }))]);
    raw.send(initialize(7));
    raw.send({ jsonrpc: '2.0', id: 8, method: 'tools/list' });
    assert.ok(await waitFor(() => raw.lines.length >= 2, 10_000), `no answers; stderr: ${raw.stderr()}`);
    for (const l of raw.lines as Array<{ error?: { code: number; message: string } }>) {
      assert.equal(l.error?.code, -32001);
      assert.match(l.error?.message ?? '', /unreachable \(ECONNREFUSED\)/);
    }
    assert.equal(raw.child.exitCode, null, 'still running');
    raw.child.stdin.end();
    assert.equal(await raw.exited, 0);
  });

  test('bad arguments exit 2 with the usage', async () => {
    const token = writeToken('args.jwt', 'abc');
    for (const args of [[], ['not a url', '--token-file', token], [publicUrl, '--token-file', token, '--client-id', 'x'], [publicUrl, '--client-id', 'x'], [publicUrl, '--token-file', join(tmp.dir, 'missing')], [publicUrl, '--nope']]) {
      const r = await runWarden(['connect', ...args], { env: { ...process.env, WARDEN_CLIENT_SECRET: '' } });
      assert.equal(r.code, 2, `connect ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Usage: warden connect/);
      assert.equal(r.stdout, '');
    }
  });
});
