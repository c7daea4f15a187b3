/**
 * `warden revoke task|agent|user|token VALUE [--reason TEXT]`: records a revocation in the store the gateways
 * share. Every replica refuses the revoked principal from its next request on (PostgreSQL: within
 * milliseconds through LISTEN/NOTIFY; SQLite: within one poll, 500 ms by default). Revoking a task also ends
 * it as `revoked`. `warden revoke list` shows the revocations in force; `warden revoke undo KIND VALUE
 * --reason TEXT` lifts one, on every replica the same way. Each is an audit event (`revoke/<kind>`, `revoke/undo`).
 */
import { AuditRecorder, type AuditDraft } from '../audit/index.js';
import { loadGatewayPolicy } from '../policy/index.js';
import { printable } from '../core/printable.js';
import { revocationAuditFields, revoke, undoAuditFields, undoRevocation, type RevokeResult } from '../revocation/index.js';
import type { RevocationKind, RevocationRecord, Store } from '../store/index.js';
import { createLogger } from '../telemetry/log.js';
import { withConfiguredStore } from './configured-store.js';
import { leaseManagerFor, taskServiceFor } from './services.js';

export interface RevokeOptions {
  config: string;
  reason?: string;
  foreign?: boolean;
  json?: boolean;
}

const BY = 'cli';

async function record(store: Store, fields: Omit<AuditDraft, 'startedAt' | 'authMethod' | 'sessionId' | 'protocolVersion' | 'argsDigest'>): Promise<void> {
  const audit = new AuditRecorder(store.audit, createLogger('error'), { instance: 'warden-cli' });
  await audit.record({ startedAt: Date.now(), authMethod: 'cli', sessionId: null, protocolVersion: null, argsDigest: null, ...fields });
}

const nameOf = (r: Pick<RevocationRecord, 'kind' | 'value'>): string => (r.kind === 'task' || r.kind === 'token' ? `${r.kind} ${r.value}` : `${r.kind} "${r.value}"`);

function describe(r: RevokeResult): string {
  const { record } = r;
  const name = nameOf(record);
  if (!r.created) return `${name} was already revoked at ${record.revokedAt} by ${record.by}\n`;
  const lines = [`revoked ${name}${record.reason ? ` (${record.reason})` : ''}: refused from the next request on, on every gateway sharing the store`];
  if (record.kind === 'token' && r.token) lines.push('every token exchanged from it (however many exchanges down) is refused too');
  if (r.task) lines.push(r.taskEnded ? `task ${r.task.id} ended as revoked` : `task ${r.task.id} was already ${r.task.state}`);
  if (r.endedTasks.length > 0) lines.push(`active tasks ended as revoked: ${r.endedTasks.join(', ')}`);
  if (record.expiresAt) lines.push(`the record is kept until ${record.expiresAt}, when the ${record.kind} expires`);
  return lines.join('\n') + '\n';
}

export async function revokeCommand(kind: RevocationKind, value: string, opts: RevokeOptions): Promise<void> {
  // An agent or user may be revoked before a gateway ever ran on this store: create it if missing.
  await withConfiguredStore(
    opts.config,
    async (store, loaded) => {
      // Ending the task here also revokes its leases at once, as `warden task end` does. Ending needs no policy.
      const leases = leaseManagerFor(loaded.config, store, createLogger('error'));
      const tasks = taskServiceFor(loaded.config, store.tasks, () => loadGatewayPolicy({ sources: [] }), leases ? async (t) => void (await leases.revokeTask(t.id)) : undefined);
      const result = await revoke(
        { revocations: store.revocations, tasks: store.tasks, tokens: store.tokens, endTask: (id, by) => tasks.end(id, by, 'revoked') },
        { kind, value, by: BY, reason: opts.reason ?? null, foreign: opts.foreign === true },
      );
      await record(store, revocationAuditFields(result));
      if (opts.json) {
        process.stdout.write(JSON.stringify({ revocation: result.record, created: result.created, taskState: result.task?.state, endedTasks: result.endedTasks }) + '\n');
        return;
      }
      process.stdout.write(describe(result).split('\n').map(printable).join('\n'));
    },
    { createDir: true },
  );
}

/** `warden revoke list [--kind K] [-n N] [--json]`: the revocations in force, newest first. */
export function revokeList(opts: { config: string; kind?: RevocationKind; limit: number; json?: boolean }): Promise<void> {
  return withConfiguredStore(opts.config, async (store, ctx) => {
    const list = await store.revocations.list({ ...(opts.kind ? { kind: opts.kind } : {}), inForceAt: new Date().toISOString(), limit: opts.limit });
    if (opts.json) {
      for (const r of list) process.stdout.write(JSON.stringify(r) + '\n');
      return;
    }
    if (list.length === 0) {
      process.stderr.write(`no revocations in force in ${ctx.location}\n`);
      return;
    }
    for (const r of list) {
      const until = r.expiresAt ? `  until ${r.expiresAt}` : '';
      // An agent or user id is a token's word (the console revokes it as seen): printable, so it cannot forge a line.
      process.stdout.write(`${printable(`${r.revokedAt}  ${nameOf(r)}  by ${r.by}${r.reason ? `: ${r.reason}` : ''}${until}`)}\n`);
    }
  });
}

/** `warden revoke undo KIND VALUE --reason TEXT`: lifts a revocation on every replica; an ended task stays ended. */
export function revokeUndo(kind: string, value: string, opts: { config: string; reason: string; json?: boolean }): Promise<void> {
  return withConfiguredStore(opts.config, async (store) => {
    const req = { kind, value, by: BY, reason: opts.reason };
    const lifted = await undoRevocation(store.revocations, req);
    await record(store, undoAuditFields(lifted, req));
    if (opts.json) {
      process.stdout.write(JSON.stringify({ lifted }) + '\n');
      return;
    }
    const note = lifted.kind === 'task' ? ' (the task stays ended: start a new one)' : '';
    process.stdout.write(`lifted the revocation of ${printable(nameOf(lifted))}: accepted again from the next request on, on every gateway sharing the store${note}\n`);
  });
}
