// Child process bookkeeping for the benchmark: spawn in its own process group, wait for readiness,
// and stop everything we started (also on errors and on process exit).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Recent stdout+stderr output (bounded), for diagnostics. */
  output: () => string;
  exited: Promise<number | null>;
}

const live = new Set<Child>();

function killGroup(c: Child, sig: NodeJS.Signals): void {
  const pid = c.proc.pid;
  if (pid === undefined || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  try {
    process.kill(-pid, sig); // the child's own process group (it was spawned detached): includes its children
  } catch {
    try { c.proc.kill(sig); } catch { /* already gone */ }
  }
}

export function spawnChild(name: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString('utf8');
    if (out.length > 20_000) out = out.slice(-10_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  proc.stdin?.on('error', () => undefined);
  const child: Child = {
    name, proc, output: () => out,
    exited: new Promise((resolve) => {
      proc.on('exit', (code) => { live.delete(child); resolve(code); });
      proc.on('error', (e) => { out += `\nspawn error: ${e.message}`; live.delete(child); resolve(null); });
    }),
  };
  live.add(child);
  return child;
}

/** Waits until `re` matches the child's output; rejects if it exits first or on timeout. */
export function waitForOutput(c: Child, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const check = (): void => {
      const m = c.output().match(re);
      if (m && !settled) { settled = true; cleanup(); resolve(m); }
    };
    const onExit = (code: number | null): void => {
      if (settled) return;
      settled = true; cleanup();
      reject(new Error(`${c.name} exited (code ${String(code)}) before ready:\n${tail(c.output())}`));
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true; cleanup();
      reject(new Error(`${c.name} not ready after ${timeoutMs} ms:\n${tail(c.output())}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      c.proc.stdout?.off('data', check);
      c.proc.stderr?.off('data', check);
    };
    c.proc.stdout?.on('data', check);
    c.proc.stderr?.on('data', check);
    void c.exited.then(onExit);
    check();
  });
}

/** Polls a TCP port on 127.0.0.1 until it accepts connections (bounded). */
export async function waitForPort(c: Child, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void c.exited.then(() => { exited = true; });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${c.name} exited before listening:\n${tail(c.output())}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
      s.setTimeout(500, () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${c.name} not listening on ${port} after ${timeoutMs} ms:\n${tail(c.output())}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = addr && typeof addr === 'object' ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** SIGTERM, wait up to graceMs, then SIGKILL. */
export async function stopChild(c: Child, graceMs = 3000): Promise<void> {
  if (!live.has(c)) return;
  killGroup(c, 'SIGTERM');
  const t = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs));
  if ((await Promise.race([c.exited, t])) === 'timeout') {
    killGroup(c, 'SIGKILL');
    await Promise.race([c.exited, new Promise((r) => setTimeout(r, 1000))]);
  }
  // The group may still hold grandchildren after the leader exited.
  const pid = c.proc.pid;
  if (pid !== undefined) { try { process.kill(-pid, 'SIGKILL'); } catch { /* group gone */ } }
  live.delete(c);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c)));
}

/** Synchronous last resort for process exit. */
export function killAllNow(): void {
  for (const c of live) killGroup(c, 'SIGKILL');
}

export function tail(s: string, lines = 15): string {
  return s.trimEnd().split('\n').slice(-lines).join('\n');
}

let installed = false;
export function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllNow();
      process.exit(130);
    });
  }
}
