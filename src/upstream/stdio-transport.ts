/**
 * A stdio transport for upstream servers: newline-delimited JSON-RPC over a child process.
 * Written here rather than taken from the SDK so the child gets exactly the scrubbed environment the
 * config gives (plus PATH and HOME), runs in its own process group (so `npx` and its child die together),
 * and a lying upstream cannot grow one line without bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_UPSTREAM_BOUNDS, parseUpstreamJson, UpstreamFault, type UpstreamBounds } from './fault.js';
import { LineReader } from './line-reader.js';

export interface StdioOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Receives the server's stderr, line by line (already length-capped). */
  onStderr?: (line: string) => void;
  /** Receives stdout lines that are not JSON-RPC, which the server should not print. */
  onNoise?: (line: string) => void;
  /** A longer line or a deeper message is a fault: the connection is dropped (and restarted by its client). */
  bounds?: UpstreamBounds;
}

/** Lines of stderr kept for the warning when the server fails to start or exits. */
const STDERR_TAIL_LINES = 15;

let runningProcesses = 0;
/** Upstream server processes this gateway has spawned that have not exited yet (for metrics). */
export const upstreamProcessCount = (): number => runningProcesses;

/** The environment a spawned upstream sees: only PATH and HOME from ours, then what the config gives. */
export function scrubbedEnv(configured: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME']) {
    const v = process.env[key];
    if (v !== undefined) base[key] = v;
  }
  return { ...base, ...configured };
}

export class StdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private child?: ChildProcess;
  private readonly bounds: UpstreamBounds;
  private readonly lines: LineReader;
  private closed = false;
  private readonly tail: string[] = [];
  private exit?: string;
  private faulted = false;

  constructor(private readonly opts: StdioOptions) {
    this.bounds = opts.bounds ?? DEFAULT_UPSTREAM_BOUNDS;
    this.lines = new LineReader(this.bounds.maxMessageBytes);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the server wrote to stderr, and how it exited if it did: why it failed, for the warning. */
  stderrTail(): string[] {
    return this.exit ? [...this.tail, `(${this.exit})`] : [...this.tail];
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.opts.command, this.opts.args, {
        env: scrubbedEnv(this.opts.env),
        cwd: this.opts.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        windowsHide: true,
      });
      this.child = child;
      child.once('spawn', () => (runningProcesses += 1));
      child.once('exit', () => (runningProcesses = Math.max(0, runningProcesses - 1)));
      child.once('error', (err) => {
        reject(err);
        this.finish(err);
      });
      child.once('spawn', () => resolve());
      child.once('exit', (code, signal) => {
        this.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
        // Let the last stderr lines arrive (they explain the exit) before the connection is reported closed.
        const done = () => this.finish();
        if (child.stderr?.readableEnded !== false) done();
        else {
          const t = setTimeout(done, 200);
          child.stderr.once('end', () => (clearTimeout(t), done()));
        }
      });
      child.stdin?.on('error', (err) => this.onerror?.(err));
      child.stdout?.on('data', (chunk: Buffer) => this.onData(chunk));
      let errBuf = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        errBuf += chunk;
        let nl: number;
        while ((nl = errBuf.indexOf('\n')) >= 0) {
          const line = errBuf.slice(0, Math.min(nl, 2000));
          if (this.tail.push(line) > STDERR_TAIL_LINES) this.tail.shift();
          this.opts.onStderr?.(line);
          errBuf = errBuf.slice(nl + 1);
        }
        if (errBuf.length > 64 * 1024) errBuf = '';
      });
    });
  }

  /** Each complete line is one message; a line that is not JSON is noise; a bound broken is a fault and nothing more is read. */
  private onData(chunk: Buffer): void {
    if (this.faulted) return;
    try {
      for (const line of this.lines.push(chunk)) {
        this.onLine(line, this.bounds);
        if (this.faulted) return;
      }
    } catch (err) {
      // A message the gateway could not handle stays this connection's problem, whatever threw.
      this.fault(err instanceof UpstreamFault ? err : new UpstreamFault('sent a message that could not be handled'));
    }
  }

  private onLine(line: string, bounds: UpstreamBounds): void {
    if (line.trim().length === 0) return;
    const parsed = parseUpstreamJson(line, bounds);
    if (!parsed.ok) {
      this.opts.onNoise?.(line.slice(0, 200));
      return;
    }
    this.onmessage?.(parsed.value as JSONRPCMessage);
  }

  /** Stops reading, reports the fault (the peer restarts the connection) and ends the process. */
  private fault(err: UpstreamFault): void {
    this.faulted = true;
    this.child?.stdout?.removeAllListeners('data');
    this.child?.stdout?.resume();
    this.onerror?.(err);
    void this.close();
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (this.closed || !stdin || !stdin.writable) return Promise.reject(new Error('upstream process is not running'));
    return new Promise((resolve, reject) => {
      stdin.write(JSON.stringify(message) + '\n', (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.closed) return;
    child.stdin?.end();
    this.killGroup('SIGTERM');
    const timer = setTimeout(() => this.killGroup('SIGKILL'), 2000);
    timer.unref();
    await new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
    clearTimeout(timer);
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone, or not a group leader: fall back to the process itself.
      try {
        this.child?.kill(signal);
      } catch {
        /* already exited */
      }
    }
  }

  private finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (err) this.onerror?.(err);
    this.onclose?.();
  }
}
