/**
 * Human approval for one call. A needs-approval decision opens a request bound to the call's digest (or
 * joins the pending one for the same call); the call is held while a human decides, and an approval is
 * consumed by exactly one call. A call that timed out can be retried: the identical call finds the
 * approval and uses it once. State lives in the store, so an approver in another process (the CLI) or on
 * another replica is seen by polling.
 */
import { performance } from 'node:perf_hooks';
import { uuidv7 } from '../core/ids.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { ApprovalRecord, ApprovalStore } from '../store/types.js';
import { callDigest, type ApprovableCall } from './digest.js';
import { readShownCall, type ShownCall } from './shown-call.js';
import type { CallSealer } from './sealed-call.js';

export interface ApprovalOptions {
  store: ApprovalStore;
  /** How long a call is held waiting (ms). */
  holdMs: number;
  /** How long a request, and an approval given for it, stays valid (ms). */
  ttlMs: number;
  /** Identities allowed to approve. */
  approvers: readonly string[];
  /** The user an agent acts for may not approve its calls either. */
  separationOfDuties: boolean;
  pollMs?: number;
  /** How often a held call's `waiting` hook runs (progress to the client); default 5 s. */
  progressEveryMs?: number;
  now?: () => number;
  /**
   * Called once a new request is stored (to notify approvers), with the complete call approvers are shown; it
   * must not block, and what it throws is ignored.
   */
  onOpened?: (r: ApprovalRecord, call: Record<string, unknown>) => void;
  /**
   * Seals the complete call of each new request for approvers (under the master key). Absent: none is kept,
   * and approvers see only the redacted view (the gateway refuses to start that way; see start-gateway.ts).
   */
  sealer?: CallSealer;
}

export interface HoldRequest extends ApprovableCall {
  /** A redacted summary of the arguments, kept with the request after it is decided, or null. */
  view: string | null;
  /** The complete call approvers are shown: `params` with values injected from the vault replaced by their names. */
  shown: Record<string, unknown>;
  reason: string;
  policyIds: string[];
}

export interface HoldHooks {
  signal: AbortSignal;
  /** Called when the call starts waiting (with the request) and every few seconds while it waits. */
  waiting?: (r: ApprovalRecord, waitedMs: number) => void;
  /** Checked on every poll; throws to end the hold (the caller was revoked, its task ended). */
  guard?: () => Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class ApprovalService {
  constructor(private readonly opts: ApprovalOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /**
   * Resolves with the consumed approval once the call may go ahead; throws approval_denied, or
   * approval_pending (with the request id) when the hold ends first.
   */
  async hold(call: HoldRequest, hooks: HoldHooks): Promise<ApprovalRecord> {
    const { store } = this.opts;
    const start = await this.begin(call);
    if ('used' in start) return start.used;
    const { digest, request } = start;
    // How long it has waited is measured on the monotonic clock; expiry on the (injectable) wall clock.
    const started = performance.now();
    let lastNotice = -Infinity;
    while (!hooks.signal.aborted) {
      const waited = performance.now() - started;
      if (waited - lastNotice >= (this.opts.progressEveryMs ?? 5000)) {
        hooks.waiting?.(request, waited);
        lastNotice = waited;
      }
      await hooks.guard?.();
      const current = await store.get(request.id);
      if (current?.state === 'denied') throw this.denied(current);
      if (current?.state === 'approved' || current?.state === 'consumed') {
        const used = await store.consume(digest, this.iso());
        if (used !== undefined) return used;
        // Another identical call took this approval first: this one needs its own.
        return this.hold(call, hooks);
      }
      if (current === undefined || Date.parse(current.expiresAt) <= this.now()) break;
      if (waited >= this.opts.holdMs) break;
      await sleep(Math.min(this.opts.pollMs ?? 250, Math.max(1, this.opts.holdMs - waited)), hooks.signal);
    }
    if (hooks.signal.aborted) throw new WardenError('cancelled', 'The request was cancelled while waiting for approval');
    throw new WardenError(
      'approval_pending',
      `This call needs a human approval (${call.reason}). Request ${request.id} is waiting; once it is approved, send the same call again.`,
      JsonRpcCode.ApprovalRequired,
      200,
      { approvalId: request.id },
    );
  }

  /**
   * The first step of a hold, without waiting: consumes an approval given for exactly this call, or opens
   * (or joins) the pending request for it. An in-protocol prompt uses it to answer at once with a link.
   */
  async begin(call: HoldRequest): Promise<{ used: ApprovalRecord } | { digest: string; request: ApprovalRecord }> {
    const { store } = this.opts;
    const digest = callDigest(call);
    const used = await store.consume(digest, this.iso());
    if (used !== undefined) return { used };
    return { digest, request: (await store.pendingFor(digest, this.iso())) ?? (await this.open(call, digest)) };
  }

  /** One request as stored, whatever its state. */
  find(id: string): Promise<ApprovalRecord | undefined> {
    return this.opts.store.get(id);
  }

  /** The complete call of a pending request, for an approver; or why it cannot be shown. */
  shownCall(r: ApprovalRecord): Promise<ShownCall> {
    return readShownCall(this.opts.store, this.opts.sealer, r, this.now());
  }

  /** The refusal a call gets once its request was denied. */
  denied(r: ApprovalRecord): WardenError {
    return new WardenError('approval_denied', `The approval ${r.id} was denied${r.decisionReason ? `: ${r.decisionReason}` : ''}`, JsonRpcCode.PolicyDenied, 200, { approvalId: r.id });
  }

  private async open(call: HoldRequest, digest: string): Promise<ApprovalRecord> {
    const now = this.now();
    const r: ApprovalRecord = {
      id: uuidv7(now),
      digest,
      agent: call.agent,
      user: call.user,
      tenant: call.tenant,
      chain: [...call.chain],
      task: call.task,
      upstream: call.upstream,
      tool: call.tool,
      arguments: call.view,
      reason: call.reason,
      policyIds: call.policyIds,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.opts.ttlMs).toISOString(),
      state: 'pending',
      decidedBy: null,
      decidedAt: null,
      decisionReason: null,
      consumedAt: null,
    };
    await this.opts.store.create(r, this.opts.sealer?.seal(r.id, digest, call.shown) ?? null);
    // Sealed calls of requests that expired meanwhile go now (decided ones went with their decision).
    await this.opts.store.forgetCalls(r.createdAt).catch(() => undefined);
    try {
      this.opts.onOpened?.(r, call.shown);
    } catch {
      // A notification never fails or delays the held call.
    }
    return r;
  }

  /**
   * An approver's decision. Refuses unknown approvers, self-approval, and requests not pending or expired;
   * with `shownOnly` (the page, where the approver reads the call), an approval of a request whose complete
   * call cannot be shown (call_not_shown).
   */
  async decide(id: string, approver: string, state: 'approved' | 'denied', reason: string | null, shownOnly = false): Promise<ApprovalRecord> {
    const refuse = (why: string) => new WardenError('forbidden', why, JsonRpcCode.Forbidden);
    if (!this.opts.approvers.includes(approver)) throw refuse(`${approver} is not an approver (config approvals.approvers)`);
    const r = await this.opts.store.get(id);
    if (r === undefined) throw refuse(`no approval request ${id}`);
    if (approver === r.agent || r.chain.includes(approver)) throw refuse('an agent may not approve its own request');
    if (this.opts.separationOfDuties && approver === r.user) throw refuse('with separationOfDuties the user an agent acts for may not approve its calls');
    if (state === 'approved' && shownOnly && r.state === 'pending') {
      const call = await this.shownCall(r);
      if (!call.shown) throw new WardenError('call_not_shown', `This request cannot be approved here: ${call.reason}. It can be denied.`, JsonRpcCode.Forbidden);
    }
    const done = await this.opts.store.decide(id, state, approver, reason, this.iso());
    if (done !== undefined) return done;
    const now = await this.opts.store.get(id);
    if (now !== undefined && now.state !== 'pending') throw refuse(`request ${id} is already ${now.state}`);
    throw refuse(`request ${id} has expired`);
  }
}
