/** Launch specs for the real MCP servers tests put behind the gateway (reference servers from npm, our fixtures). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
export const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');

function entry(pkg: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'dist', 'index.js');
}

export const everythingStdio = () => ({ command: process.execPath, args: [entry('@modelcontextprotocol/server-everything'), 'stdio'] });
export const filesystemStdio = (dir: string) => ({ command: process.execPath, args: [entry('@modelcontextprotocol/server-filesystem'), dir] });
export const memoryStdio = (file: string) => ({ command: process.execPath, args: [entry('@modelcontextprotocol/server-memory')], env: { MEMORY_FILE_PATH: file } });

/**
 * A reference server behind the recording pass-through (test/fixtures/recording-proxy.ts): every line the
 * gateway sends it is appended to `recordFile`.
 */
export const recorded = (spec: { command: string; args: string[]; env?: Record<string, string> }, recordFile: string) => ({
  command: process.execPath,
  args: ['--import', 'tsx', join(ROOT, 'test', 'fixtures', 'recording-proxy.ts'), spec.command, ...spec.args],
  env: { ...(spec.env ?? {}), RECORD_FILE: recordFile },
  cwd: ROOT,
});

/** A stdio fixture written in TypeScript, run through tsx. */
export const tsFixtureStdio = (file: string, args: string[] = [], env: Record<string, string> = {}) => ({
  command: process.execPath,
  args: ['--import', 'tsx', join(ROOT, 'test', 'fixtures', file), ...args],
  env,
  cwd: ROOT,
});

export interface Started {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Spawns a process and waits for a stdout line matching `ready` that contains an http URL. */
export function startHttpProcess(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env, timeoutMs = 20_000): Promise<Started> {
  const child = spawn(command, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  return new Promise((resolveStart, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`timed out waiting for ${ready}: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready: ${stderr.slice(-2000)}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = ready.exec(line);
      const url = /(https?:\/\/[^\s"',}]+)/.exec(line)?.[1];
      if (m && url) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolveStart({ url, child, stop });
      }
    });
  });
}

/** The conformance fixture over Streamable HTTP on an ephemeral port. */
export const startConformanceHttp = () =>
  startHttpProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/conformance-upstream.ts'), '--port', '0'], /listening on/);
