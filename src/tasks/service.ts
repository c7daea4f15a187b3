/**
 * Task lifecycle: start (policy decides the grant), look up on every call made under a task token (an
 * ended, revoked or expired task refuses the call on the next request, on every replica, because the
 * state is read from the shared store), end. Tokens for a task never outlive it.
 */
import { uuidv7 } from '../core/ids.js';
import type { GatewayPolicy, ServerFacts, Subject, TaskFacts } from '../policy/index.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { TaskRecord, TaskStore } from '../store/types.js';
import { decideGrant, type Grant, type GrantRequest } from './grant.js';

export interface TaskServiceOptions {
  store: TaskStore;
  policy: () => GatewayPolicy;
  servers: ReadonlyMap<string, ServerFacts>;
  serverOfTool: (tool: string) => string | undefined;
  /** The longest a task may live. */
  maxTtlSeconds: number;
  /** Runs when a task ends or is revoked here (revokes its leases); a failure is reported, the end stands. */
  onEnd?: (task: TaskRecord) => Promise<void>;
  now?: () => number;
}

export interface StartRequest extends GrantRequest {
  ttlSeconds: number;
}

export class TaskError extends WardenError {}

const inactive = (message: string) => new TaskError('task_inactive', message, JsonRpcCode.Unauthorized);

export class TaskService {
  constructor(private readonly opts: TaskServiceOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Starts a task with the grant policy allows; refuses when nothing at all is granted. */
  async start(subject: Subject, req: StartRequest): Promise<{ task: TaskRecord; grant: Grant }> {
    if (req.purpose.trim() === '') throw new WardenError('invalid_params', 'a task needs a purpose', JsonRpcCode.InvalidParams);
    if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds <= 0) throw new WardenError('invalid_params', 'the TTL must be a positive number of seconds', JsonRpcCode.InvalidParams);
    if (req.ttlSeconds > this.opts.maxTtlSeconds) {
      throw new WardenError('invalid_params', `the TTL ${req.ttlSeconds} s is above the maximum of ${this.opts.maxTtlSeconds} s`, JsonRpcCode.InvalidParams);
    }
    if (req.servers.length === 0 && req.tools.length === 0) throw new WardenError('invalid_params', 'a task must ask for at least one server or tool', JsonRpcCode.InvalidParams);
    const now = this.now();
    const grant = decideGrant(subject, req, {
      policy: this.opts.policy(),
      servers: this.opts.servers,
      serverOfTool: this.opts.serverOfTool,
      context: { approval: 'none', now: new Date(now), client: { transport: 'task', name: '', protocolVersion: '' }, callsPerMinute: 0 },
    });
    if (grant.servers.length === 0 && grant.tools.length === 0) {
      throw new WardenError('policy_denied', `Denied by policy: nothing asked for was granted (${grant.refused.map((r) => `${r.item}: ${r.reason}`).join('; ')})`, JsonRpcCode.PolicyDenied);
    }
    const task: TaskRecord = {
      id: uuidv7(now),
      agent: subject.agent,
      user: subject.user,
      tenant: subject.tenant,
      purpose: req.purpose,
      servers: grant.servers,
      tools: grant.tools,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + req.ttlSeconds * 1000).toISOString(),
      state: 'active',
      endedAt: null,
      endedBy: null,
    };
    await this.opts.store.create(task);
    return { task, grant };
  }

  /**
   * The task a call runs under, if it may: it exists, is active and unexpired, and belongs to this agent or
   * to an agent that delegated to it (a sub-agent works within its parent's task, never beyond its grant).
   */
  async active(id: string, agent: string, chain: readonly string[] = []): Promise<TaskFacts> {
    const t = await this.opts.store.get(id);
    if (t === undefined || (t.agent !== agent && !chain.includes(t.agent))) throw inactive('The task of this token is not known to this gateway');
    if (t.state !== 'active') throw inactive(`The task ${t.id} has ${t.state === 'revoked' ? 'been revoked' : 'ended'}; start a new task`);
    if (Date.parse(t.expiresAt) <= this.now()) throw inactive(`The task ${t.id} has expired; start a new task`);
    return { id: t.id, purpose: t.purpose, tools: t.tools, servers: t.servers };
  }

  /** Whether a task can still be used (active and unexpired), for sweeps. */
  async isActive(id: string): Promise<boolean> {
    const t = await this.opts.store.get(id);
    return t !== undefined && t.state === 'active' && Date.parse(t.expiresAt) > this.now();
  }

  async end(id: string, by: string, state: 'ended' | 'revoked' = 'ended'): Promise<TaskRecord> {
    const done = await this.opts.store.finish(id, state, new Date(this.now()).toISOString(), by);
    if (done !== undefined) {
      await this.opts.onEnd?.(done);
      return done;
    }
    const t = await this.opts.store.get(id);
    if (t === undefined) throw new WardenError('invalid_params', `no task ${id}`, JsonRpcCode.InvalidParams);
    throw new WardenError('invalid_params', `task ${id} is already ${t.state}`, JsonRpcCode.InvalidParams);
  }
}
