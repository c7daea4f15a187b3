/**
 * Just-in-time credentials for tasks. An upstream config refers to `${lease:NAME}`; when a session owned by
 * a task connects that upstream, the task gets its lease (one per task and lease, shared by the task's
 * sessions in this process) and the reference is replaced by its value. Leases are recorded by id and
 * handle, never by value, and revoked when the task ends, is revoked or expires (swept).
 */
import { uuidv7 } from '../../core/ids.js';
import type { LeaseConfig, ServerConfig } from '../../config/index.js';
import type { Principal } from '../../identity/principal.js';
import { JsonRpcCode, WardenError } from '../../protocol/errors.js';
import type { LeaseRecord, LeaseStore, TaskStore } from '../../store/types.js';
import type { Logger } from '../../telemetry/log.js';
import { exchangeToken, revokeToken, tokenHandle } from './oauth-exchange.js';
import { createRole, dropRole } from './postgres-role.js';

/** A lease as this process holds it: its value (handed to the upstream), what to redact, and its record id. */
interface Issued {
  value: string;
  secrets: string[];
  leaseId: string;
}

/** Signs the subject token a token exchange presents: the task's user as subject, its agent as actor. */
export type SubjectSigner = (claims: { user: string | null; agent: string; tenant: string | null; task: string | null }, audience: string, expiresAt: Date) => Promise<string>;

const REF = /\$\{lease:([A-Za-z0-9_-]{1,64})\}/g;

/** Every lease name a server config refers to. */
export function leaseReferences(server: ServerConfig): string[] {
  const texts = 'command' in server ? [...server.args, ...Object.values(server.env)] : [server.url, ...Object.values(server.headers)];
  return [...new Set(texts.flatMap((t) => [...t.matchAll(REF)].map((m) => m[1] as string)))];
}

function substitute(server: ServerConfig, values: ReadonlyMap<string, string>): ServerConfig {
  const sub = (t: string) => t.replace(REF, (_, name: string) => values.get(name) ?? '');
  const subAll = (r: Record<string, string>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, sub(v)]));
  return 'command' in server ? { ...server, args: server.args.map(sub), env: subAll(server.env) } : { ...server, url: sub(server.url), headers: subAll(server.headers) };
}

export interface LeaseManagerOptions {
  store: LeaseStore;
  tasks: TaskStore;
  leases: Readonly<Record<string, LeaseConfig>>;
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** For `oauth-exchange` leases. */
  signSubject?: SubjectSigner;
  /** Each lease issued or revoked, for the audit log (the record has no value in it). */
  onEvent?: (event: 'issued' | 'revoked', lease: LeaseRecord) => Promise<void>;
  now?: () => number;
}

export class LeaseManager {
  private readonly issued = new Map<string, Promise<Issued>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LeaseManagerOptions) {}

  /** Refuses at start a reference to an unconfigured lease, or a provider without its admin credential. */
  check(servers: Readonly<Record<string, ServerConfig>>): void {
    for (const [name, server] of Object.entries(servers)) {
      for (const lease of leaseReferences(server)) {
        const cfg = this.opts.leases[lease];
        if (cfg === undefined) throw new Error(`mcpServers.${name} refers to \${lease:${lease}}, which is not configured under leases`);
        const env = cfg.provider === 'postgres' ? cfg.adminUrlEnv : cfg.clientSecretEnv;
        if (!(this.opts.env ?? process.env)[env]) throw new Error(`leases.${lease}: the environment variable ${env} (the provider's credential) is not set`);
      }
    }
  }

  /** The provider's own credential (an admin connection string, a client secret), from the environment. */
  private credential(cfg: LeaseConfig): string {
    const env = cfg.provider === 'postgres' ? cfg.adminUrlEnv : cfg.clientSecretEnv;
    const value = (this.opts.env ?? process.env)[env];
    if (!value) throw new WardenError('upstream_unavailable', `The lease provider's credential (${env}) is not set`, JsonRpcCode.UpstreamUnavailable);
    return value;
  }

  /** The server config with its `${lease:...}` references replaced for `owner`'s task, plus the values handed out (for redaction). */
  async prepare(upstream: string, server: ServerConfig, owner: Principal | null): Promise<{ server: ServerConfig; values: string[]; leaseIds: string[] }> {
    const names = leaseReferences(server);
    if (names.length === 0) return { server, values: [], leaseIds: [] };
    const taskId = owner?.task ?? null;
    if (taskId === null) throw new WardenError('upstream_unavailable', `Upstream "${upstream}" issues credentials per task: call it with a task token`, JsonRpcCode.UpstreamUnavailable);
    const task = await this.opts.tasks.get(taskId);
    const now = (this.opts.now ?? Date.now)();
    if (task === undefined || task.state !== 'active' || Date.parse(task.expiresAt) <= now) {
      throw new WardenError('task_inactive', 'The task is not active: no credentials are issued for it', JsonRpcCode.Unauthorized);
    }
    const values = new Map<string, string>();
    const secrets: string[] = [];
    const leaseIds: string[] = [];
    for (const name of names) {
      const key = `${taskId}\0${name}`;
      let grant = this.issued.get(key);
      if (grant === undefined) {
        grant = this.issue({ id: taskId, user: task.user, agent: task.agent, tenant: task.tenant }, name, new Date(task.expiresAt));
        this.issued.set(key, grant);
        grant.catch(() => this.issued.delete(key));
      }
      const g = await grant;
      values.set(name, g.value);
      secrets.push(...g.secrets);
      leaseIds.push(g.leaseId);
    }
    return { server: substitute(server, values), values: secrets, leaseIds };
  }

  private async issue(task: { id: string; user: string | null; agent: string; tenant: string | null }, name: string, expiresAt: Date): Promise<Issued> {
    const cfg = this.opts.leases[name];
    if (cfg === undefined) throw new WardenError('upstream_unavailable', `No lease named ${name}`, JsonRpcCode.UpstreamUnavailable);
    const id = uuidv7((this.opts.now ?? Date.now)());
    let issued: Issued;
    let handle: string;
    if (cfg.provider === 'postgres') {
      handle = `warden_${id.replace(/-/g, '').slice(0, 32)}`;
      // Recorded before the role exists: a crash in between leaves a record the sweeper revokes, never an untracked role.
      await this.record(id, task.id, name, cfg.provider, handle, expiresAt);
      const grant = await createRole(this.credential(cfg), handle, expiresAt, cfg.grants);
      issued = { value: grant.url, secrets: [grant.url, grant.password], leaseId: id };
    } else {
      if (!this.opts.signSubject) throw new WardenError('upstream_unavailable', 'Token exchange leases need the gateway token service', JsonRpcCode.UpstreamUnavailable);
      const subject = await this.opts.signSubject({ user: task.user, agent: task.agent, tenant: task.tenant, task: task.id }, cfg.audience ?? new URL(cfg.tokenUrl).origin, expiresAt);
      const { accessToken } = await exchangeToken(cfg, subject, this.credential(cfg)).catch((err: unknown) => {
        throw new WardenError('upstream_unavailable', `The credential for this upstream could not be obtained: ${(err as Error).message}`, JsonRpcCode.UpstreamUnavailable);
      });
      handle = tokenHandle(accessToken);
      await this.record(id, task.id, name, cfg.provider, handle, expiresAt);
      issued = { value: accessToken, secrets: [accessToken], leaseId: id };
    }
    this.opts.log.info({ lease: id, task: task.id, name, handle }, 'lease issued');
    return issued;
  }

  private async record(id: string, task: string, name: string, provider: string, handle: string, expiresAt: Date): Promise<void> {
    const record: LeaseRecord = { id, task, name, provider, handle, createdAt: new Date().toISOString(), expiresAt: expiresAt.toISOString(), state: 'active', revokedAt: null };
    await this.opts.store.create(record);
    await this.opts.onEvent?.('issued', record);
  }

  /** Revokes every active lease of a task (drops its roles). Returns how many. */
  async revokeTask(task: string): Promise<number> {
    let n = 0;
    for (const lease of await this.opts.store.active(task)) {
      const cfg = this.opts.leases[lease.name];
      if (cfg?.provider === 'postgres') await dropRole(this.credential(cfg), lease.handle);
      else if (cfg?.provider === 'oauth-exchange') {
        // Only the process that holds the token can revoke it at the server; elsewhere it lapses at its expiry.
        const held = await this.issued.get(`${task}\0${lease.name}`)?.catch(() => undefined);
        if (held !== undefined && held.leaseId === lease.id) await revokeToken(cfg, held.value, this.credential(cfg)).catch((err: unknown) => this.opts.log.warn({ lease: lease.id, reason: (err as Error).message }, 'token revocation failed'));
      }
      if (await this.opts.store.revoke(lease.id, new Date().toISOString())) {
        n++;
        this.opts.log.info({ lease: lease.id, task, role: lease.handle }, 'lease revoked');
        await this.opts.onEvent?.('revoked', lease);
      }
    }
    for (const key of [...this.issued.keys()]) if (key.startsWith(`${task}\0`)) this.issued.delete(key);
    return n;
  }

  /** Revokes the leases of tasks that ended, were revoked or expired. */
  async sweep(): Promise<number> {
    const now = (this.opts.now ?? Date.now)();
    let n = 0;
    const tasks = new Set((await this.opts.store.active()).map((l) => l.task));
    for (const id of tasks) {
      const t = await this.opts.tasks.get(id);
      if (t === undefined || t.state !== 'active' || Date.parse(t.expiresAt) <= now) n += await this.revokeTask(id);
    }
    return n;
  }

  startSweeping(everyMs = 15_000): void {
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.opts.log.error({ err }, 'lease sweep failed')), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
