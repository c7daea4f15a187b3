/**
 * Helpers for the end-to-end tests: they drive the real compiled binary (bin/warden.js, run `npm run build`
 * first) and real reference servers as child processes. Every wait is bounded and every process a test
 * starts can be stopped, even when the test fails half way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { stringify } from 'yaml';
import { ALLOW_ALL_POLICY, withMasterKey } from './gateway.js';
import { ROOT } from './servers.js';

const require = createRequire(import.meta.url);

export const WARDEN_BIN = join(ROOT, 'bin', 'warden.js');
export const EVERYTHING_ENTRY = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
export const INSPECTOR_ENTRY = join(ROOT, 'node_modules', '@modelcontextprotocol', 'inspector-cli', 'build', 'index.js');

/** Fails fast with a clear message when the binary cannot run because dist/ was not built. */
export function assertBuilt(): void {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` before the e2e tests');
}

export function tempDir(prefix = 'warden-e2e-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes a config file: an object becomes YAML (or JSON for *.json), a string is written as is. An object
 * without `vault` gets a master key file next to it (withMasterKey).
 */
export function writeConfig(dir: string, config: Record<string, unknown> | string, name = 'warden.yaml'): string {
  const file = join(dir, name);
  const value = typeof config === 'string' ? config : withMasterKey(dir, config);
  const text = typeof value === 'string' ? value : name.endsWith('.json') ? JSON.stringify(value, null, 2) : stringify(value);
  writeFileSync(file, text);
  return file;
}

/** A development config on an ephemeral loopback port with a store next to the config file. */
export function devConfig(mcpServers: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { listen: '127.0.0.1:0', auth: { mode: 'none' }, store: 'warden.db', log: { level: 'error' }, policy: { files: [ALLOW_ALL_POLICY] }, mcpServers, ...extra };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; kills it (SIGKILL) and rejects if it runs longer than `timeoutMs`. */
export function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs `node bin/warden.js ...args`. */
export const runWarden = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) => run(process.execPath, [WARDEN_BIN, ...args], opts);

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Sends `signal`, waits up to `timeoutMs` for the exit, then SIGKILLs. Resolves with how it ended. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitInfo & { killed: boolean }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode, killed: false };
  const exited = new Promise<ExitInfo>((r) => child.once('exit', (code, sig) => r({ code, signal: sig })));
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)));
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (first) return { ...first, killed: false };
  child.kill('SIGKILL');
  return { ...(await exited), killed: true };
}

export interface RunningWarden {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** SIGTERM, bounded; SIGKILL after the bound. */
  stop: (timeoutMs?: number) => Promise<ExitInfo & { killed: boolean }>;
}

/**
 * Starts `warden serve --config FILE` (or `warden ...args` in `cwd`; `bin`: another warden executable, such
 * as an installed one) and waits for its "listening on" line.
 */
export function startWarden(configFile: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; args?: string[]; cwd?: string; bin?: string } = {}): Promise<RunningWarden> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const args = opts.args ?? ['serve', '--config', configFile];
  const [command, argv] = opts.bin === undefined ? [process.execPath, [WARDEN_BIN, ...args]] : [opts.bin, args];
  const child = spawn(command, argv, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const running = (url: string): RunningWarden => ({ url, child, stdout: () => stdout, stderr: () => stderr, stop: (t) => stopChild(child, 'SIGTERM', t) });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`warden exited with ${code} before listening:\n${stderr.slice(-3000)}`));
    };
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      void stopChild(child, 'SIGKILL');
      reject(new Error(`warden did not print "listening on" within ${timeoutMs} ms:\n${stderr.slice(-3000)}`));
    }, timeoutMs);
    child.once('exit', onExit);
    createInterface({ input: child.stdout }).on('line', (line) => {
      stdout += line + '\n';
      const url = /^warden: listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)\b/.exec(line)?.[1];
      if (url) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(running(url));
      }
    });
  });
}

/** Live child processes of `pid`, read from /proc (a zombie counts as gone). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat && stat.ppid === pid && stat.state !== 'Z') out.push(Number(name));
  }
  return out;
}

function readStat(pid: number): { state: string; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces; fields after it are fixed.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]) };
  } catch {
    return null;
  }
}

/** The command line of a process, or '' when it is gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z';
}

/** Polls `check` every 50 ms until it is true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface HttpUpstream {
  port: number;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<unknown>;
}

/**
 * server-everything over HTTP (`streamableHttp`: path /mcp; `sse`: GET /sse + POST /message) on a port the
 * kernel picks (PORT=0; test/fixtures/report-port.mjs says which). It binds every interface; tests only
 * talk to it on 127.0.0.1.
 */
export async function startEverythingHttp(mode: 'streamableHttp' | 'sse', timeoutMs = 15_000): Promise<HttpUpstream> {
  const reporter = join(ROOT, 'test', 'fixtures', 'report-port.mjs');
  const child = spawn(process.execPath, ['--import', reporter, EVERYTHING_ENTRY, mode], { cwd: ROOT, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let port = 0;
  child.stdout.on('data', (d) => (output += String(d)));
  child.stderr.on('data', (d) => {
    output += String(d);
    port ||= Number(/WARDEN_TEST_LISTENING (\d+)/.exec(output)?.[1] ?? 0);
  });
  const stop = () => stopChild(child, 'SIGTERM', 5_000);
  const ready = await waitFor(() => port > 0 || child.exitCode !== null, timeoutMs);
  if (!ready || port === 0) {
    await stop();
    throw new Error(`server-everything ${mode} did not listen within ${timeoutMs} ms:\n${output.slice(-2000)}`);
  }
  return { port, child, output: () => output, stop };
}

/** An SDK client connected to the gateway over Streamable HTTP. */
export async function connectClient(url: string, name = 'warden-e2e'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** The text of a tools/call result's text content blocks, joined. */
export function resultText(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}
