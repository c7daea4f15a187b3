/**
 * `warden revoke task|agent|user|token VALUE [--reason TEXT] [-c config]`: records a revocation in the store
 * the gateways share. Every replica refuses the revoked principal from its next request on (PostgreSQL:
 * within milliseconds through LISTEN/NOTIFY; SQLite: within one poll, 500 ms by default). Revoking a task
 * also ends it as `revoked`. The revocation is an audit event (method `revoke/<kind>`).
 */
import { AuditRecorder } from '../audit/index.js';
import { loadGatewayPolicy } from '../policy/index.js';
import { isRevocationKind, revocationAuditFields, REVOCATION_KIND_NAMES, revoke, type RevokeResult } from '../revocation/index.js';
import type { Store } from '../store/index.js';
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

async function recordRevokeEvent(store: Store, r: RevokeResult): Promise<void> {
  const audit = new AuditRecorder(store.audit, createLogger('error'), { instance: 'warden-cli' });
  await audit.record({ startedAt: Date.now(), authMethod: 'cli', sessionId: null, protocolVersion: null, argsDigest: null, ...revocationAuditFields(r) });
}

function describe(r: RevokeResult): string {
  const { record } = r;
  const name = record.kind === 'task' || record.kind === 'token' ? `${record.kind} ${record.value}` : `${record.kind} "${record.value}"`;
  if (!r.created) return `${name} was already revoked at ${record.revokedAt} by ${record.by}\n`;
  const lines = [`revoked ${name}${record.reason ? ` (${record.reason})` : ''}: refused from the next request on, on every gateway sharing the store`];
  if (r.task) lines.push(r.taskEnded ? `task ${r.task.id} ended as revoked` : `task ${r.task.id} was already ${r.task.state}`);
  if (record.expiresAt) lines.push(`the record is kept until ${record.expiresAt}, when the ${record.kind} expires`);
  return lines.join('\n') + '\n';
}

export async function revokeCommand(kind: string, value: string, opts: RevokeOptions): Promise<void> {
  if (!isRevocationKind(kind)) throw new Error(`cannot revoke a "${kind}": name one of ${REVOCATION_KIND_NAMES.join(', ')}`);
  if (opts.foreign && kind !== 'token') throw new Error('--foreign applies to tokens only');
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
      await recordRevokeEvent(store, result);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ revocation: result.record, created: result.created, taskState: result.task?.state }) + '\n');
        return;
      }
      process.stdout.write(describe(result));
    },
    { createDir: true },
  );
}
