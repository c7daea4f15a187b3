/** What every console page gets: the services it reads and acts through, who is signed in, and the answer types. */
import type { ApprovalService } from '../approvals/index.js';
import type { AuditDraft, AuditRecorder } from '../audit/index.js';
import type { WardenConfig } from '../config/index.js';
import type { GatewayPolicy } from '../policy/index.js';
import type { ReviewReport } from '../posture/index.js';
import type { IntegrityStore, PinKind, PinRecord, Store } from '../store/types.js';
import type { TaskService } from '../tasks/index.js';
import type { Logger } from '../telemetry/log.js';
import type { Role } from './roles.js';

/** Composed in src/cli/start-gateway.ts. */
export interface ConsoleServices {
  config: WardenConfig;
  /** The config file's directory (policy files, `warden review`). */
  baseDir: string;
  /** The config file, when there is one (`warden review` scans it). */
  configFile?: string | undefined;
  store: Store;
  /** Undefined when no approvers are configured: nothing can be decided. */
  approvals: ApprovalService | undefined;
  tasks: TaskService;
  audit: AuditRecorder;
  /** Tool integrity: the pins, and decisions through the gateway's guard (as the admin API's; the guard audits them). */
  integrity?: {
    store: Pick<IntegrityStore, 'list'>;
    decide(upstream: string, kind: PinKind, name: string, digest: string | undefined, state: 'approved' | 'rejected', by: string): Promise<PinRecord>;
  };
  /** The policy set in force. */
  policy: () => GatewayPolicy;
  /** `warden review` of this deployment (the Posture page); undefined when there is no config file to review. */
  review?: (() => Promise<ReviewReport>) | undefined;
  log: Logger;
  /** The console secret (console.secretEnv), at least 32 bytes. */
  secret: string;
  /** The value of console.signIn.clientSecretEnv, when set. */
  clientSecret?: string | undefined;
  now?: () => number;
}

export interface Session {
  name: string;
  groups: string[];
  role: Role;
  /** The CSRF token every form of this session carries. */
  csrf: string;
}

/** The audit fields an action fills; who acted (the signed-in person, authMethod `oidc`) and when are added. */
export type ActionAudit = Omit<AuditDraft, 'startedAt' | 'authMethod' | 'sessionId' | 'protocolVersion' | 'argsDigest' | 'user'> & {
  user?: string | null;
};

export interface PageContext {
  services: ConsoleServices;
  session: Session;
  now(): number;
  /** Appends an audit event for an action (logged, not thrown, if it cannot be stored: the action is done). */
  record(draft: ActionAudit): Promise<void>;
}

/** A page's answer: HTML for the main element (the layout is added), or a redirect within the console. */
export type Answer = { title: string; body: string; status?: number } | { redirect: string };

/** A refusal with an HTTP status, a stable code (audited) and a message for the page. */
export class ConsoleError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  /** The least role that may use it; checked by the server before the handler runs. */
  role: Role;
  /** The navigation entry it belongs to (aria-current). */
  nav: string;
  /** `params`: the path's captures; `input`: the query (GET) or the form (POST, CSRF checked). */
  handle(ctx: PageContext, params: string[], input: URLSearchParams): Promise<Answer>;
}
