/**
 * `warden tools list|diff|approve|reject`: the tool integrity pins in the store the gateways share. A changed
 * definition is quarantined until approved here (or through the admin API); running gateways see the decision
 * within integrity.refreshMs. Every decision is an audit event (`integrity/approved`, `integrity/rejected`).
 */
import { AuditRecorder } from '../audit/index.js';
import { decidePin, definitionDiff, INTEGRITY_RULES } from '../integrity/index.js';
import type { PinKind, PinRecord, PinState, Store } from '../store/index.js';
import { createLogger } from '../telemetry/log.js';
import { withConfiguredStore } from './configured-store.js';

interface Common {
  config: string;
  kind?: PinKind;
  json?: boolean;
}

const summary = (r: PinRecord) => ({ upstream: r.upstream, kind: r.kind, name: r.name, digest: r.digest, state: r.state, findings: r.findings, firstSeenAt: r.firstSeenAt, decidedAt: r.decidedAt, decidedBy: r.decidedBy });
const severityOf = (id: string) => INTEGRITY_RULES[id]?.severity ?? 'unknown';
const findingsText = (ids: readonly string[]) => (ids.length === 0 ? '' : `  findings: ${ids.map((f) => `${f} (${severityOf(f)})`).join(', ')}`);

/** `warden tools list [--upstream U] [--state S]`: every recorded definition with its state. */
export function toolsList(opts: Common & { upstream?: string; state?: PinState | 'all' }): Promise<void> {
  return withConfiguredStore(opts.config, async (store, ctx) => {
    const pins = (await store.integrity.list({ ...(opts.upstream ? { upstream: opts.upstream } : {}), ...(opts.state && opts.state !== 'all' ? { state: opts.state } : {}) })).filter(
      (r) => opts.kind === undefined || r.kind === opts.kind,
    );
    if (opts.json) {
      for (const r of pins) process.stdout.write(JSON.stringify(summary(r)) + '\n');
      return;
    }
    if (pins.length === 0) {
      process.stderr.write(`no tool definitions recorded in ${ctx.location}\n`);
      return;
    }
    for (const r of pins) {
      const by = r.decidedBy ? ` by ${r.decidedBy}` : '';
      process.stdout.write(`${r.upstream}  ${r.kind} ${r.name}  ${r.state}${by}  ${r.digest.slice(0, 19)}${findingsText(r.findings)}\n`);
    }
  });
}

function named(pins: PinRecord[], kind: PinKind, name: string): PinRecord[] {
  return pins.filter((r) => r.kind === kind && r.name === name);
}

/** `warden tools diff UPSTREAM NAME`: each pending definition against the pin, description and schema. */
export function toolsDiff(upstream: string, name: string, opts: Common): Promise<void> {
  return withConfiguredStore(opts.config, async (store) => {
    const recs = named(await store.integrity.list({ upstream }), opts.kind ?? 'tool', name);
    if (recs.length === 0) throw new Error(`no ${opts.kind ?? 'tool'} ${name} of upstream ${upstream} is recorded`);
    const pinned = recs.find((r) => r.state === 'approved');
    const pending = recs.filter((r) => r.state === 'pending');
    if (opts.json) {
      process.stdout.write(JSON.stringify({ pinned: pinned ? summary(pinned) : null, pending: pending.map((p) => ({ ...summary(p), diff: definitionDiff(pinned?.definition ?? '{}', p.definition) })) }) + '\n');
      return;
    }
    if (pending.length === 0) {
      process.stdout.write(`${upstream} ${name}: nothing pending${pinned ? ` (pinned ${pinned.digest.slice(0, 19)})` : ''}\n`);
      return;
    }
    for (const p of pending) {
      process.stdout.write(`${upstream} ${name}: ${pinned ? `pinned ${pinned.digest.slice(0, 19)} -> ` : 'not pinned yet, '}pending ${p.digest.slice(0, 19)}${findingsText(p.findings)}\n`);
      for (const line of definitionDiff(pinned?.definition ?? '{}', p.definition)) process.stdout.write(`  ${line}\n`);
    }
  });
}

async function record(store: Store, r: PinRecord, by: string): Promise<void> {
  const audit = new AuditRecorder(store.audit, createLogger('error'), { instance: 'warden-cli' });
  const reason = [`${r.kind} ${r.name} ${r.digest.slice(0, 19)}`, r.findings.length ? `findings: ${r.findings.join(', ')}` : '', `by ${by}`].filter(Boolean).join('; ');
  await audit.record({
    startedAt: Date.now(),
    agent: by,
    user: null,
    tenant: null,
    chain: [],
    authMethod: 'cli',
    sessionId: null,
    protocolVersion: null,
    method: `integrity/${r.state}`,
    upstream: r.upstream,
    target: r.name,
    argsDigest: null,
    decision: { effect: r.state === 'approved' ? 'allow' : 'deny', policyIds: [], reason },
    outcome: 'ok',
    errorCode: null,
  });
}

/** `warden tools approve|reject UPSTREAM NAME [--digest D]`: decides the pending definition (or the one named). */
export function toolsDecide(state: 'approved' | 'rejected', upstream: string, name: string, opts: Common & { digest?: string; as?: string }): Promise<void> {
  return withConfiguredStore(opts.config, async (store) => {
    const by = opts.as ?? 'cli';
    const r = await decidePin(store.integrity, { upstream, kind: opts.kind ?? 'tool', name, digest: opts.digest, state, by, at: new Date().toISOString() });
    await record(store, r, by);
    if (opts.json) {
      process.stdout.write(JSON.stringify(summary(r)) + '\n');
      return;
    }
    const effect = state === 'approved' ? 'pinned: served and callable again' : 'rejected: stays quarantined';
    process.stdout.write(`${upstream} ${r.kind} ${name} ${r.digest.slice(0, 19)} ${effect} (gateways sharing the store see it within integrity.refreshMs)\n`);
  });
}
