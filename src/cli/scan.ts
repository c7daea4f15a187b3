/**
 * `warden scan [PATH...]`: finds MCP client configs (the known per-user locations and the current folder,
 * or the files and folders named), reports what bypasses the gateway and what is unsafe in them, as text,
 * JSON or SARIF. Secret values are never printed: a fingerprint and a position stand for each.
 * Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad usage.
 */
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { failsAt, isSeverity, renderJson, renderSarif, renderText, scan, SEVERITIES } from '../posture/index.js';
import { VERSION } from './version.js';

export interface ScanCliOptions {
  format?: string;
  output?: string;
  failOn?: string;
  gatewayUrl?: string[];
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
const RENDER = { text: renderText, json: renderJson, sarif: renderSarif } as const;

export async function scanCommand(paths: string[], opts: ScanCliOptions, io: CliIo = processIo()): Promise<number> {
  const format = opts.format ?? 'text';
  if (!(format in RENDER)) {
    io.stderr.write(`warden scan: --format must be text, json or sarif\n`);
    return 2;
  }
  if (opts.failOn !== undefined && !isSeverity(opts.failOn)) {
    io.stderr.write(`warden scan: --fail-on must be one of ${SEVERITIES.join(', ')}\n`);
    return 2;
  }
  const home = io.env.HOME ?? io.env.USERPROFILE ?? homedir();
  const result = await scan({ paths, home, cwd: io.cwd, env: io.env, gatewayUrls: opts.gatewayUrl ?? [] });
  const text = RENDER[format as keyof typeof RENDER](result, { cwd: io.cwd, version: VERSION });
  if (opts.output) {
    writeFileSync(opts.output, text, { mode: 0o644 });
    io.stderr.write(`warden scan: ${result.findings.length} findings written to ${opts.output}\n`);
  } else io.stdout.write(text);
  return failsAt(result.findings, opts.failOn as never) ? 1 : 0;
}
