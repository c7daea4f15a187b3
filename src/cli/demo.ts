/**
 * `warden demo`: one job done by an agent for alice, through the gateway, told step by step. In a fresh
 * folder, offline, on the embedded store: an agent with a workload identity (a JWT-SVID) acts for alice by
 * token exchange and starts a task whose grant policy decides; reads go through; the task's upstream gets a
 * just-in-time credential the agent never sees; a sub-agent gets less authority by delegation; a write
 * waits until bob approves it with the real `warden approvals approve` (another process, as another
 * terminal would run it); a `../` escape is refused with its reason; `warden revoke task` (another process
 * too) refuses the very next call; the audit trace and its verification (the commands' own code, run here)
 * end the story.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../telemetry/log.js';
import { ALICE_SCOPES, IDP_ISSUER, PLANNER, prepareDemo, REPORTS_SECRET_ENV, TRUST_DOMAIN, WRITER, type DemoSetup } from './demo-setup.js';
import { startDemoUpstreams, type DemoUpstreams } from './demo-upstreams.js';
import { auditTrace } from './audit-trace.js';
import { runAuditVerify } from './audit-verify.js';
import { startGateway, type RunningGateway } from './start-gateway.js';

const WARDEN_BIN = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));

export interface DemoOptions {
  /** Where to play it: a new or empty folder. Default: a new folder in the system's temporary directory. */
  dir?: string;
}

type Write = (text: string) => void;

/** A new folder each run, so one run's store never carries into the next. */
function freshFolder(dir: string | undefined): string {
  if (dir === undefined) return mkdtempSync(join(tmpdir(), 'warden-demo-'));
  const abs = resolve(dir);
  if (existsSync(abs) && readdirSync(abs).length > 0) throw new Error(`${abs} is not empty: the demo needs a new or empty folder`);
  mkdirSync(abs, { recursive: true });
  return abs;
}

const short = (agent: string) => agent.split('/').pop() ?? agent;
const oneLine = (text: string, max = 150) => {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 3) + '...' : t;
};

/** One agent's MCP connection to the gateway, with its bearer token. */
async function agentClient(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'demo-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

/** A tool call's text, or the refusal's message. */
async function call(client: Client, name: string, args: Record<string, unknown>): Promise<{ ok: boolean; text: string }> {
  try {
    const r = await client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema, { timeout: 60_000 });
    return { ok: !r.isError, text: r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ') };
  } catch (err) {
    return { ok: false, text: (err as Error).message };
  }
}

/** Prints a command as typed in the demo folder, then what it said, indented under it. */
function shell(write: Write, args: string[], output: string): void {
  write(`   $ warden ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')} -c warden.yaml\n`);
  for (const line of output.trimEnd().split('\n')) write(`     ${line}\n`);
}

/** Runs the real CLI in the demo folder, as another terminal would, and prints the command and what it said. */
function cli(dir: string, write: Write, args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [WARDEN_BIN, ...args, '-c', 'warden.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    child.once('error', reject);
    child.once('close', (code) => {
      shell(write, args, out);
      if (code === 0) resolveRun(out);
      else reject(new Error(`warden ${args[0]} ${args[1] ?? ''} exited with ${code}`));
    });
  });
}

/** A text sink for the CLI's own report functions, run in this process (the same code as the command). */
function collector(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { stream, text: () => text };
}

/** RFC 8693 token exchange at the gateway's token endpoint. */
async function exchange(gatewayUrl: string, subject: string, actor: string, extra: Record<string, string>): Promise<{ access_token: string; scope: string; expires_in: number }> {
  const r = await fetch(new URL('/oauth/token', gatewayUrl), {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      actor_token: actor,
      actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      ...extra,
    }),
  });
  const body = (await r.json()) as { access_token: string; scope: string; expires_in: number; error_description?: string };
  if (!r.ok) throw new Error(`token exchange refused: ${body.error_description ?? r.status}`);
  return body;
}

/** The approval request a held call opened (it appears a moment after the call is sent). */
async function pendingApproval(running: RunningGateway): Promise<{ id: string; reason: string }> {
  for (let i = 0; i < 400; i++) {
    const [r] = await running.store.approvals.list({ state: 'pending', limit: 1 });
    if (r) return r;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('the held call opened no approval request');
}

/** The story, once everything runs. */
async function play(setup: DemoSetup, running: RunningGateway, upstreams: DemoUpstreams, write: Write): Promise<string> {
  const say = (line = '') => write(line + '\n');
  const { dir, filesDir } = setup;
  const aud = running.url;
  const clients: Client[] = [];
  const show = (who: string, tool: string, what: string, r: { ok: boolean; text: string }) =>
    say(`   ${who} -> ${[tool, what].filter(Boolean).join(' ')}: ${r.ok ? '' : 'REFUSED: '}${oneLine(r.text)}`);
  try {
    say('\n1. The planner proves who it is and acts for alice');
    const alice = await setup.idp.sign({ sub: 'alice', aud, tenant: 'demo', client_id: 'demo-app', scope: ALICE_SCOPES }, 'at+jwt');
    const plannerSvid = await setup.svids.sign({ sub: PLANNER, aud }, 'JWT');
    const purpose = 'publish the weekly report';
    const planner = await exchange(aud, alice, plannerSvid, { task_purpose: purpose, task_servers: 'files reports payroll', task_tools: 'files__write_file', task_ttl: '900' });
    const [task] = await running.store.tasks.list({ limit: 1 });
    if (!task) throw new Error('the exchange started no task');
    const started = (await running.store.audit.trace({ task: task.id, limit: 10 })).find((e) => e.method === 'task/start');
    say(`   token exchange (RFC 8693): alice's access token + the planner's JWT-SVID, asking for a task "${purpose}"`);
    say(`   -> a gateway token: planner acting for alice, tenant demo, scopes "${planner.scope}", valid ${Math.round(planner.expires_in / 60)} min`);
    say(`   the policy decided the task's grant: ${started?.decision?.reason ?? `granted ${[...task.servers, ...task.tools].join(', ')}`}`);
    say(`   task ${task.id}: the token works only within it, and dies with it`);

    say('\n2. Reads are allowed; the task gets a credential the agent never sees');
    const p = await agentClient(aud, planner.access_token);
    clients.push(p);
    show('planner', 'files__read_text_file', 'files/draft.md', await call(p, 'files__read_text_file', { path: join(filesDir, 'draft.md') }));
    const figures = await call(p, 'reports__weekly_figures', {});
    show('planner', 'reports__weekly_figures', '', figures);
    const [lease] = await running.store.leases.active(task.id);
    const [leased, claims] = [...upstreams.issued][0] ?? [];
    const leakedTo = [...upstreams.issued.keys()].filter((t) => figures.text.includes(t));
    say(`   the reports server accepts only its own authorization server's tokens: for this task the gateway`);
    say(`   leased one (lease ${lease?.id ?? '?'}, issued for ${String(claims?.sub)} acting through ${short(String((claims?.act as { sub?: string })?.sub))}, task ${String(claims?.task)})`);
    say(`   and put it on the upstream connection. The server echoed it back; the agent got ${leakedTo.length === 0 && leased ? '[redacted:lease]' : 'IT (NOT REDACTED)'} instead.`);

    say('\n3. The planner hands the writing to a sub-agent, with less authority (one delegation hop)');
    const writerSvid = await setup.svids.sign({ sub: WRITER, aud }, 'JWT');
    const writer = await exchange(aud, planner.access_token, writerSvid, { scope: 'mcp files:read files:write' });
    say(`   token exchange: the planner's gateway token + the writer's JWT-SVID, asking for less: "mcp files:read files:write"`);
    say(`   -> a gateway token: writer acting for alice, delegated by planner, same task, scopes "${writer.scope}"`);
    const w = await agentClient(aud, writer.access_token);
    clients.push(w);
    show('writer', 'reports__weekly_figures', '', await call(w, 'reports__weekly_figures', {}));

    say('\n4. A write waits for a human');
    const report = join(filesDir, 'report.md');
    const held = call(w, 'files__write_file', { path: report, content: '# Weekly report\n\nWeek 23: 128 orders, 3 refunds, 9,420 EUR.\n' });
    const request = await pendingApproval(running);
    say(`   writer -> files__write_file files/report.md: HELD, approval request ${request.id}`);
    say(`   ("${request.reason}"; the agent's call waits, and reports progress to clients that ask for it)`);
    say(`   bob approves it from another terminal (alice may not: it is her agent's call):`);
    await cli(dir, write, ['approvals', 'approve', request.id, '--as', 'bob', '--reason', 'figures checked']);
    show('writer', 'files__write_file', 'files/report.md, once approved', await held);

    say('\n5. A path that climbs out of the folder is refused, and the refusal says why');
    show('writer', 'files__write_file', 'files/../escape.txt', await call(w, 'files__write_file', { path: `${filesDir}/../escape.txt`, content: 'x' }));

    say('\n6. Revoking the task stops it at once');
    await cli(dir, write, ['revoke', 'task', task.id, '--reason', 'report published']);
    show('planner', 'files__read_text_file', 'files/draft.md (the very next call)', await call(p, 'files__read_text_file', { path: join(filesDir, 'draft.md') }));

    say('\n7. The whole task, from the audit log: every hop, its decision, the approval and the lease');
    // `warden audit trace` itself, run in this process on the same store (it is what the command runs).
    let trace = '';
    await auditTrace({ task: task.id }, { query: (q) => running.store.audit.trace(q), write: (t) => void (trace += t) });
    shell(write, ['audit', 'trace', '--task', task.id], trace);
    return task.id;
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

export async function demo(opts: DemoOptions = {}, write: Write = (t) => void process.stdout.write(t)): Promise<void> {
  const t0 = performance.now();
  const dir = freshFolder(opts.dir);
  const saved = process.env[REPORTS_SECRET_ENV];
  // The gateway's client secret at the demo's reports authorization server, for this run only.
  process.env[REPORTS_SECRET_ENV] = randomBytes(24).toString('base64url');
  const upstreams = await startDemoUpstreams(process.env[REPORTS_SECRET_ENV]);
  let running: RunningGateway | undefined;
  try {
    const setup = await prepareDemo(dir, upstreams.origin);
    const { config, baseDir, file } = loadConfig(setup.configFile);
    running = await startGateway(config, baseDir, createLogger('error'), file);
    upstreams.trustGateway(new URL(running.url).origin);
    write(`mcp-warden demo: an agent does a job for alice through the gateway; every step is decided and recorded.\n`);
    write(`Everything is made fresh in ${dir} (config, keys, policies, store); nothing is downloaded.\n\n`);
    write(`Who is who\n`);
    write(`   alice     a person; her identity provider (${IDP_ISSUER}) signs her access token\n`);
    write(`   planner   an AI agent; its workload identity is a JWT-SVID of the trust domain ${TRUST_DOMAIN}: ${PLANNER}\n`);
    write(`   writer    a sub-agent the planner may hand work to: ${WRITER}\n`);
    write(`   bob       approves what the policy holds for a human\n`);
    write(`   gateway   ${running.url}, policies: the starter pack + policies/demo.cedar\n`);
    write(`   servers   files (the filesystem server on files/), reports (HTTP; takes only tokens of its own\n`);
    write(`             authorization server), payroll (another tenant's)\n`);
    const task = await play(setup, running, upstreams, write);
    // Stopping signs a last checkpoint over the newest events; then the chain is checked end to end.
    await running.close();
    running = undefined;
    write(`\n   The gateway stops, signing a checkpoint over the last events. Nobody can change the log unnoticed:\n`);
    const report = collector();
    const verified = await runAuditVerify({ config: setup.configFile }, report.stream, report.stream);
    shell(write, ['audit', 'verify'], report.text());
    if (verified !== 0) throw new Error('the audit chain did not verify');
    write(`\nDone in ${((performance.now() - t0) / 1000).toFixed(1)} s. Read it again: warden audit trace --task ${task} -c ${setup.configFile}\n`);
  } finally {
    await running?.close();
    await upstreams.close();
    if (saved === undefined) delete process.env[REPORTS_SECRET_ENV];
    else process.env[REPORTS_SECRET_ENV] = saved;
  }
}
