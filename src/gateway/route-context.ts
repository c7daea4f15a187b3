/** What routing works with: the request's context, and what it learns for the audit event. */
import type { AuditDecision } from '../audit/event.js';
import type { IntegrityGuard } from '../integrity/index.js';
import type { ApprovalPromptSettings } from './approval-prompt.js';
import type { RequestAuthorization } from './authorize.js';
import type { Entry } from './catalog.js';
import type { RequestOutbound } from './channel.js';
import type { Asker } from './input-rounds.js';
import type { GatewaySession } from './session.js';

/** What routing learned about a request, for its audit event. */
export interface RouteAudit {
  upstream: string | null;
  target: string | null;
  argsDigest: string | null;
  arguments: string | null;
  upstreamStatus: string | null;
  decision: AuditDecision | null;
  /** An injected secret's value was found in what the upstream sent back, and replaced before it went on. */
  redacted?: boolean;
  /** Leases the upstream hop used. */
  leaseIds?: readonly string[];
  /** The call was answered with an input-required result (an approval prompt) instead of running. */
  inputRequired?: boolean;
  /** Finding ids in the tool's result (integrity.scanResults). */
  resultFindings?: readonly string[];
  /** The intent record committed before the call was forwarded (strict audit). */
  intentId?: string;
}

/** How `audit.arguments` wants a call's arguments kept: nothing, a digest, or a digest plus a redacted copy. */
export type ArgumentsMode = 'none' | 'digest' | 'redacted';

export interface RouteContext {
  argumentsMode: ArgumentsMode;
  session: GatewaySession;
  out: RequestOutbound;
  timeoutMs: (upstream: string) => number;
  /** The decide step for this request's principal. */
  authz: RequestAuthorization;
  /** Re-checks the caller while a call is held for approval (revocation, its task): throws to end the hold. */
  stillAllowed?: () => Promise<void>;
  /** In-protocol approval prompts (config approvals.prompt), where configured. */
  prompt?: ApprovalPromptSettings | undefined;
  /** Tool integrity (pins, quarantine, findings), where configured. */
  integrity?: IntegrityGuard | undefined;
  /** Records findings in a tool's result for the task (`context.taint`); set when integrity.scanResults is on. */
  scanResult?: ((entry: Entry, result: Record<string, unknown>, audit: RouteAudit) => void) | undefined;
  /** Filled in while routing, for the audit event. */
  audit: RouteAudit;
  /** A stateless request's `Mcp-Param-*` headers, checked against the arguments of the tool that marks them. */
  paramHeaders?: Readonly<Record<string, string>>;
  /** A stateless request's multi round-trip handling (input-rounds.ts): absent for session requests. */
  rounds?: RoundsContext;
  /** Runs just before a request is forwarded (strict audit: commits its intent record); throws to stop it. */
  beforeForward?: () => Promise<void>;
}

/** How one stateless request runs its upstream call: first try, or the retry of a parked one. */
export interface RoundsContext {
  /** Runs the call; an upstream question parks it and answers input-required. */
  first(start: (ask: Asker) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>>;
  /** Present when the request carries a parked call's requestState: answers it and goes on with that call. */
  resume?: () => Promise<Record<string, unknown>>;
  /** A 2026-07-28 upstream's questions, put to the client with a sealed state. */
  relay(upstream: string, result: Record<string, unknown>): Record<string, unknown>;
  /** The reserved `_meta` a 2026-07-28 upstream gets with this request (the client's capabilities, its log level). */
  upstreamMeta: Record<string, unknown>;
  /** `inputResponses` a request brought without a `requestState`: passed to a 2026-07-28 upstream as they are. */
  freshResponses?: Record<string, unknown>;
  /** Present when the request answers a 2026-07-28 upstream's questions: that upstream, its state, the answers. */
  continued?: { upstream: string; upstreamState?: string; inputResponses: unknown };
}
