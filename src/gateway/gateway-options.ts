/** What the gateway is built from, and what the ingress tells it about each request. */
import type { ApprovalService } from '../approvals/index.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { WardenConfig } from '../config/schema.js';
import type { Redactor } from '../credentials/redactor.js';
import type { Principal } from '../identity/index.js';
import type { GatewayPolicy, TaskFacts } from '../policy/index.js';
import type { IntegrityStore } from '../store/index.js';
import type { Logger } from '../telemetry/log.js';
import type { ApprovalPromptSettings } from './approval-prompt.js';
import type { Confinement } from './reach.js';
import type { SessionDeps } from './session.js';

export interface GatewayOptions {
  config: WardenConfig;
  audit: AuditRecorder;
  log: Logger;
  version: string;
  /** Every credential value handed to upstreams, redacted from what they send; given when others add to it (user OAuth tokens). */
  redactor?: Redactor;
  /** The policy set in force (it may be replaced between requests by a reload). */
  policy: () => GatewayPolicy;
  /** Holds calls that need approval until a human decides; absent: such calls are refused. */
  approvals?: ApprovalService;
  /** Asks in the protocol, with a link to the approval page, where the client supports it (approvals.prompt). */
  approvalPrompt?: ApprovalPromptSettings;
  /** Injects credentials into an upstream's config for the session's owner, before each connect. */
  prepareServer?: SessionDeps['prepareServer'];
  /** Whether an upstream's config issues leases (created on the first allowed request that reaches it, never on warm-up). */
  holdsLeases?: (upstream: string) => boolean;
  /** Refuses a principal that was revoked (its token, agent, user or task); throws a WardenError. */
  revocations?: { check(p: Principal): void };
  /** Looks up the task a token is for on every request made with it; throws when the task may not be used. */
  tasks?: { active(id: string, agent: string, chain: readonly string[]): Promise<TaskFacts>; isActive(id: string): Promise<boolean> };
  /** What each upstream may reach (roots, symlinks, the gateway's own files); default: roots from the config, nothing guarded. */
  confinement?: Confinement;
  /** Where tool pins are kept (the store's `integrity`); absent (an embedding without a store): nothing is pinned or scanned. */
  integrityStore?: IntegrityStore;
}

/** What the ingress knows about a request, for the audit record. */
export interface RequestMeta {
  protocolVersion: string | null;
  startedAt: number;
  /** Who asked; null when the request was refused before authentication succeeded. */
  principal: Principal | null;
  /** A stateless request's `Mcp-Param-*` headers (names lower-cased, without the prefix), checked against the body. */
  paramHeaders?: Readonly<Record<string, string>>;
}
