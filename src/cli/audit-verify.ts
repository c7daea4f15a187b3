/**
 * `warden audit verify [--config FILE] [--json]`: checks the audit hash chain and the signed checkpoints of
 * the configured store and names the first broken link. Exit code 0 when intact, 1 when broken or when the
 * store cannot be read (a missing store is never called intact: a deleted database must not pass a check),
 * 2 when the config does not load. The checkpoint keys' thumbprints are printed so they can be compared with a copy kept
 * outside the database, which is what anchors the checkpoints (see src/audit/checkpoints.ts).
 */
import { existsSync } from 'node:fs';
import { verifyAudit, type VerifyResult } from '../audit/verify.js';
import { loadConfig, resolveStoreSpec } from '../config/index.js';
import { openStore, parseStoreSpec, type Store } from '../store/index.js';
import { EXIT_FAILED, EXIT_OK, exitCodeOf } from './exit.js';
import { printable } from '../core/printable.js';

export interface VerifyCliOptions {
  config: string;
  json?: boolean;
}

export const EXIT_INTACT = EXIT_OK;
export const EXIT_BROKEN = EXIT_FAILED;

/** The commander action: runs the check and sets the exit code. */
export async function auditVerify(opts: VerifyCliOptions): Promise<void> {
  process.exitCode = await runAuditVerify(opts);
}

/** Runs the check, writes the report, and returns the exit code. */
export async function runAuditVerify(
  opts: VerifyCliOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  let store: Store | undefined;
  let result: VerifyResult;
  let location = '';
  try {
    const { config, baseDir } = loadConfig(opts.config);
    const spec = resolveStoreSpec(config.store, baseDir);
    const parsed = parseStoreSpec(spec);
    // Opening a missing SQLite file would create an empty store and call it intact.
    if (parsed.kind === 'sqlite' && parsed.path !== ':memory:' && !existsSync(parsed.path)) {
      throw new Error(`no store at ${parsed.path} yet: nothing to verify (the gateway creates it when it first runs)`);
    }
    store = await openStore(spec, { createDir: false });
    location = store.location;
    result = await verifyAudit(store);
  } catch (e) {
    const message = `cannot read the audit store: ${(e as Error).message}`;
    if (opts.json) out.write(JSON.stringify({ ok: false, error: message }) + '\n');
    else err.write(message + '\n');
    return exitCodeOf(e);
  } finally {
    await store?.close().catch(() => {});
  }
  out.write(opts.json ? JSON.stringify({ store: location, ...result }) + '\n' : formatVerify(result, location));
  return result.ok ? EXIT_INTACT : EXIT_BROKEN;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The human-readable report: a one-line verdict first. */
export function formatVerify(r: VerifyResult, location: string): string {
  const lines: string[] = [];
  const counts = `${plural(r.events, 'event')}, ${plural(r.checkpoints, 'checkpoint')}`;
  if (r.ok) lines.push(`audit chain INTACT: ${counts}`);
  else {
    const b = r.firstBroken!;
    // The detail quotes what the store holds (a kid, a field): a rewritten row cannot forge a line of this report.
    lines.push(`audit chain BROKEN at seq ${b.seq} (${printable(String(b.reason))}): ${printable(b.detail)}`);
    lines.push(`  intact before the break: ${counts}`);
  }
  lines.push(`  store: ${location}`);
  if (r.anchorSeq !== undefined) lines.push(`  the chain starts after the checkpoint at seq ${r.anchorSeq} (earlier events pruned)`);
  if (r.head !== undefined) {
    const covered = r.lastCheckpointSeq ?? 0;
    const after = r.head.seq - covered;
    lines.push(
      covered === 0
        ? `  no signed checkpoint yet: the ${plural(r.head.seq, 'event')} are protected by the hash chain alone`
        : `  newest checkpoint at seq ${covered}${after > 0 ? `; ${plural(after, 'event')} after it are protected by the hash chain alone` : ''}`,
    );
    lines.push(`  head: seq ${r.head.seq} ${printable(r.head.hash)}`);
  }
  if (r.unfinished.length > 0) {
    lines.push(`  ${plural(r.unfinished.length, 'call')} UNFINISHED: forwarded (intent recorded) with no outcome recorded; the upstream may have run them:`);
    for (const u of r.unfinished.slice(0, 50)) {
      lines.push(`    seq ${u.seq}  ${u.time}  ${u.method} ${[u.upstream, u.target].filter(Boolean).join('/')}  on ${u.instance}  intent ${u.id}`);
    }
    if (r.unfinished.length > 50) lines.push(`    ... and ${r.unfinished.length - 50} more (--json lists them all)`);
  }
  if (r.keys.length === 0) lines.push('  checkpoint keys: none recorded');
  else {
    lines.push('  checkpoint keys (compare these thumbprints with your copy kept outside the database):');
    for (const k of r.keys) {
      lines.push(`    ${printable(k.kid)}  ${printable(k.alg)}  ${k.thumbprint ?? '(not a valid public key)'}  since ${printable(k.firstUsedAt)}  ${plural(k.checkpoints, 'checkpoint')}`);
    }
  }
  return lines.join('\n') + '\n';
}
