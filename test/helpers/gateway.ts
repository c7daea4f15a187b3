/** Starts a real gateway in-process for a test: temp SQLite store, loopback port, logs captured for assertions. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Writable } from 'node:stream';
import { runAuditVerify } from '../../src/cli/audit-verify.js';
import { startGateway, type RunningGateway } from '../../src/cli/start-gateway.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/log.js';

export interface TestGateway extends RunningGateway {
  dir: string;
  /** Everything the gateway logged, as text. */
  logs: () => string;
}

/** A policy that allows everything: tests of other steps run under it unless they bring their own `policy`. */
export const ALLOW_ALL_POLICY = fileURLToPath(new URL('../fixtures/policies/allow-all.cedar', import.meta.url));

/**
 * Every gateway needs a vault master key (its signing keys are sealed under it, as are held calls): a test
 * config without `vault` gets a fresh key file in its directory.
 */
export function withMasterKey(dir: string, extra: Record<string, unknown>): Record<string, unknown> {
  if (extra.vault !== undefined || process.env.WARDEN_MASTER_KEY) return extra;
  // One key per directory: configs written next to each other (a gateway's, a CLI's) share its store.
  const file = join(dir, 'master.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return { ...extra, vault: { masterKeyFile: file } };
}

export async function startTestGateway(mcpServers: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  let running: RunningGateway;
  try {
    const config = validateConfig({ listen: '127.0.0.1:0', store: join(dir, 'warden.db'), auth: { mode: 'none' }, policy: { files: [ALLOW_ALL_POLICY] }, mcpServers, ...withMasterKey(dir, extra) }, 'test');
    running = await startGateway(config, dir, createLogger('debug', sink));
  } catch (err) {
    // Tests of refused configs: the folder goes with the refusal.
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...running,
    dir,
    logs: () => lines.join(''),
    close: async () => {
      try {
        await running.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs `warden audit verify` (the CLI's code) on a running test gateway's store and asserts the chain is intact. */
export async function assertAuditIntact(gw: TestGateway): Promise<void> {
  const config = join(gw.dir, 'verify.yaml');
  writeFileSync(config, 'store: warden.db\nmcpServers: {}\n');
  const [out, err] = [new PassThrough(), new PassThrough()];
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  err.on('data', (d: Buffer) => (text += d.toString()));
  const code = await runAuditVerify({ config }, out, err);
  assert.equal(code, 0, `warden audit verify: ${text}`);
  assert.match(text, /^audit chain INTACT/);
}
