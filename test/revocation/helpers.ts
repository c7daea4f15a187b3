/** Helpers for the revocation tests: a call that reports why it was refused, a bounded wait for a refusal, the CLI in another process. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BearerSession } from '../helpers/auth.js';
import { ROOT } from '../helpers/servers.js';

/** One tools/call of the recording upstream's `echo`: 'ok', or the refusal's reason code. */
export async function echo(s: BearerSession, name = 'echo'): Promise<string> {
  const { message } = await s.request('tools/call', { name, arguments: { message: 'hi' } });
  if (message.result !== undefined) return 'ok';
  return String((message.error as { data?: { reason?: string } } | undefined)?.data?.reason ?? JSON.stringify(message));
}

/** Calls until a call is refused (or `withinMs` passes); the reason and how long after `since` it came. */
export async function firstRefusal(s: BearerSession, since: number, withinMs = 3000, everyMs = 20): Promise<{ reason: string; afterMs: number }> {
  for (;;) {
    const reason = await echo(s);
    const afterMs = performance.now() - since;
    if (reason !== 'ok' || afterMs > withinMs) return { reason, afterMs };
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Calls until one succeeds (or `withinMs` passes); the last reason and when. */
export async function firstSuccess(s: BearerSession, withinMs: number, everyMs = 50): Promise<{ reason: string; afterMs: number }> {
  const since = performance.now();
  for (;;) {
    const reason = await echo(s);
    const afterMs = performance.now() - since;
    if (reason === 'ok' || afterMs > withinMs) return { reason, afterMs };
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `warden <args>` from the TypeScript sources (through tsx) in a separate process, as an operator would. */
export function warden(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  const main = pathToFileURL(join(ROOT, 'src', 'cli', 'main.ts')).href;
  // `run` is what bin/warden.js calls: the same messages and exit codes as the real binary.
  const code = `import(${JSON.stringify(main)}).then((m) => m.run(['node', 'warden', ...process.argv.slice(1)]));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`warden ${args.join(' ')} ran longer than ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
