/** What every admin handler gets: the services, the authenticated caller, scope checks and audit. */
import type { ApprovalService } from '../approvals/index.js';
import type { AuditDraft, AuditRecorder } from '../audit/index.js';
import { AuthError, challenge, type Authenticator, type Principal } from '../identity/index.js';
import type { ApprovalStore, IntegrityStore, PinKind, PinRecord, RevocationStore, TaskStore, TokenStore } from '../store/types.js';
import type { TaskService } from '../tasks/index.js';
import type { Logger } from '../telemetry/log.js';
import { AdminError } from './http.js';

/** The services the API acts through; composed in src/cli/start-gateway.ts. */
export interface AdminServices {
  /** Undefined when no approvers are configured: nothing can be decided. */
  approvals: ApprovalService | undefined;
  approvalStore: Pick<ApprovalStore, 'get' | 'list'>;
  tasks: TaskService;
  taskStore: Pick<TaskStore, 'get' | 'list'>;
  tokens: Pick<TokenStore, 'get'>;
  revocations: RevocationStore;
  audit: AuditRecorder;
  log: Logger;
  /** Scope to read and decide approvals (config admin.approverScope). */
  approverScope: string;
  /** Scope to read approvals and tasks, revoke, and end tasks (config admin.adminScope). */
  adminScope: string;
  /** Throws for a revoked caller (or a stale revocation list): a revoked approver decides nothing. */
  checkRevoked?: (p: Principal) => void;
  /** Tool integrity: the pins, and decisions through the gateway's guard (which audits them). */
  integrity?: {
    store: Pick<IntegrityStore, 'list'>;
    decide(upstream: string, kind: PinKind, name: string, digest: string | undefined, state: 'approved' | 'rejected', by: string): Promise<PinRecord>;
  };
  now?: () => number;
}

/** The services plus the gateway's authenticator and what its 401/403 challenges say. */
export interface AdminOptions extends AdminServices {
  authenticator: Authenticator;
  resourceMetadataUrl: string;
  requiredScopes: string[];
}

export interface Answer {
  status: number;
  body: unknown;
}

/** The audit fields a handler fills; the caller's auth method and the timing are added. */
export type AdminAudit = Omit<AuditDraft, 'startedAt' | 'authMethod' | 'sessionId' | 'protocolVersion' | 'argsDigest'>;

export class AdminContext {
  constructor(
    readonly opts: AdminOptions,
    readonly principal: Principal,
    readonly startedAt: number,
    /** The path's captured parts (an id, a verb). */
    readonly params: string[] = [],
  ) {}

  now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Who acts, as recorded: the human when there is one, else the workload. */
  get actor(): string {
    return this.principal.user ?? this.principal.agent;
  }

  /** Refuses with 403 insufficient_scope (and a step-up challenge) unless the token holds one of `scopes`. */
  requireScope(...scopes: string[]): void {
    if (scopes.some((s) => this.principal.scopes.includes(s))) return;
    const err = new AuthError('insufficient_scope', `This needs the scope ${scopes.join(' or ')}`, false, scopes.slice(0, 1));
    throw new AdminError(403, 'insufficient_scope', err.description, { 'www-authenticate': challenge(err, this.opts.resourceMetadataUrl, this.opts.requiredScopes) });
  }

  /** Appends an audit event; a failure is logged (the action itself is already stored). */
  async record(draft: AdminAudit): Promise<void> {
    await this.opts.audit
      .record({ ...draft, startedAt: this.startedAt, authMethod: this.principal.method, sessionId: null, protocolVersion: null, argsDigest: null })
      .catch((err: unknown) => this.opts.log.error({ err, method: draft.method }, 'admin API: could not record an audit event'));
  }
}
