/**
 * In-protocol approval prompts (config `approvals.prompt: url`): a call that needs approval asks the
 * person at the client, in the protocol, to open the request's approval page, where an approver signs in
 * and decides. Only where the client declared URL elicitation:
 * - 2025-11-25 sessions: the call is held as always, and an `elicitation/create` (mode url) goes out on its
 *   stream; `notifications/elicitation/complete` follows once the request is decided. A declined prompt
 *   ends the hold (the request stays open for approvers).
 * - 2026-07-28 requests: there are no server-to-client requests, so the first try answers at once with an
 *   input-required result (the link, and a `requestState` naming the request, HMAC-protected and bound to
 *   the call's digest). The retry carrying that state is held until the request is decided.
 * The prompt only carries a link: what authorises is still an approval bound to the call's digest and
 * consumed once, whichever way the call arrives.
 */
import { randomUUID } from 'node:crypto';
import { callDigest, type ApprovalService, type HoldHooks, type HoldRequest } from '../approvals/index.js';
import type { RequestStateCodec } from '../approvals/request-state.js';
import { JsonRpcCode, WardenError, errorCodeOf } from '../protocol/errors.js';
import type { Params } from '../protocol/jsonrpc.js';
import { META_CLIENT_CAPABILITIES } from '../protocol/revisions.js';
import type { ApprovalRecord } from '../store/types.js';
import type { RequestOutbound } from './channel.js';
import type { GatewaySession } from './session.js';

export interface ApprovalPromptSettings {
  /** The approval page of one request. */
  pageUrl(id: string): string;
  state: RequestStateCodec;
}

/** How a held call goes ahead: the decide step calls it with the request to hold. */
export type Holder = (approvals: ApprovalService, call: HoldRequest, hooks: HoldHooks) => Promise<ApprovalRecord>;

/** Thrown instead of holding: the answer to this try is an input-required result (2026-07-28). */
export class InputRequired extends Error {
  readonly data: { approvalId: string };
  constructor(readonly result: Record<string, unknown>, approvalId: string) {
    super('input required');
    this.data = { approvalId };
  }
}

/** The key of the approval prompt in `inputRequests` and `inputResponses`. */
export const INPUT_KEY = 'approval';
/** How long a requestState stays good at most; the request's own expiry may end it sooner. */
const STATE_TTL_MS = 15 * 60_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const declaresUrl = (caps: unknown) => isObject(caps) && isObject(caps.elicitation) && isObject(caps.elicitation.url);

const plainHold: Holder = (approvals, call, hooks) => approvals.hold(call, hooks);

function promptMessage(call: HoldRequest): string {
  return `Approval needed: ${call.agent}${call.user ? ` (for ${call.user})` : ''} wants to call ${call.tool} on ${call.upstream}: ${call.reason}. Open the link to review the request; an approver decides.`;
}

function declined(id: string, action: unknown): WardenError {
  return new WardenError(
    'approval_declined',
    `The approval prompt was ${action === 'cancel' ? 'cancelled' : 'declined'} at the client; the call was not made. Request ${id} stays open for approvers.`,
    JsonRpcCode.ApprovalRequired,
    200,
    { approvalId: id },
  );
}

/** The holder for one tools/call: a prompt where configured and the client can show one, else a plain hold. */
export function holderFor(settings: ApprovalPromptSettings | undefined, session: GatewaySession, out: RequestOutbound, rawParams: Params | undefined): Holder {
  if (settings === undefined) return plainHold;
  if (session.shared) {
    const meta = rawParams?._meta;
    return isObject(meta) && declaresUrl(meta[META_CLIENT_CAPABILITIES]) ? inputRequiredHolder(settings, rawParams!) : plainHold;
  }
  return declaresUrl(session.init.clientCapabilities) ? elicitingHolder(settings, session, out) : plainHold;
}

interface SentPrompt {
  requestId: string;
  elicitationId: string;
  /** The client's answer, once it came: accept, decline or cancel. */
  answer?: unknown;
}

/** 2025-11-25: hold, and ask the client once, on the call's own stream, to open the page. */
function elicitingHolder(settings: ApprovalPromptSettings, session: GatewaySession, out: RequestOutbound): Holder {
  return async (approvals, call, hooks) => {
    let asked = undefined as SentPrompt | undefined;
    const hooked: HoldHooks = {
      ...hooks,
      waiting: (r, waitedMs) => {
        if (asked === undefined) {
          const prompt: SentPrompt = { requestId: r.id, elicitationId: randomUUID() };
          asked = prompt;
          session
            .askClient(out, 'elicitation/create', { mode: 'url', elicitationId: prompt.elicitationId, url: settings.pageUrl(r.id), message: promptMessage(call) })
            .then((res) => (prompt.answer = res.action))
            // A client that cannot answer still has the hold, and its progress notices.
            .catch(() => undefined);
        }
        hooks.waiting?.(r, waitedMs);
      },
      guard: async () => {
        if (asked?.answer !== undefined && asked.answer !== 'accept') throw declined(asked.requestId, asked.answer);
        await hooks.guard?.();
      },
    };
    const complete = () => {
      if (asked !== undefined) out.send({ jsonrpc: '2.0', method: 'notifications/elicitation/complete', params: { elicitationId: asked.elicitationId } });
    };
    try {
      const used = await approvals.hold(call, hooked);
      complete();
      return used;
    } catch (err) {
      if (errorCodeOf(err) === 'approval_denied') complete();
      throw err;
    }
  };
}

/**
 * 2026-07-28: answer the first try with the link; hold the retry that brings the state back while its
 * request is pending (or approved). A denied request refuses the retry; one that was used or expired
 * meanwhile is asked for anew, with a new link.
 */
function inputRequiredHolder(settings: ApprovalPromptSettings, raw: Params): Holder {
  const ask = async (approvals: ApprovalService, call: HoldRequest): Promise<ApprovalRecord> => {
    const start = await approvals.begin(call);
    if ('used' in start) return start.used;
    const { request, digest } = start;
    const exp = Math.floor(Math.min(Date.parse(request.expiresAt), Date.now() + STATE_TTL_MS) / 1000);
    throw new InputRequired(
      {
        resultType: 'input_required',
        inputRequests: { [INPUT_KEY]: { method: 'elicitation/create', params: { mode: 'url', message: promptMessage(call), url: settings.pageUrl(request.id) } } },
        requestState: settings.state.seal({ approvalId: request.id, digest, exp }),
      },
      request.id,
    );
  };
  return async (approvals, call, hooks) => {
    if (raw.requestState === undefined) return ask(approvals, call);
    const state = settings.state.open(raw.requestState);
    if (state === undefined) {
      throw new WardenError('invalid_params', 'requestState is not valid: it was altered, has expired, or was not issued by this gateway', JsonRpcCode.InvalidParams);
    }
    if (state.digest !== callDigest(call)) {
      throw new WardenError('invalid_params', 'requestState belongs to another call (another caller, task, tool or arguments)', JsonRpcCode.InvalidParams);
    }
    const responses = raw.inputResponses;
    const answer = isObject(responses) && isObject(responses[INPUT_KEY]) ? responses[INPUT_KEY].action : undefined;
    if (answer !== undefined && answer !== 'accept') throw declined(state.approvalId, answer);
    const current = await approvals.find(state.approvalId);
    if (current?.state === 'denied') throw approvals.denied(current);
    const open = current !== undefined && (current.state === 'pending' || current.state === 'approved') && Date.parse(current.expiresAt) > Date.now();
    return open ? approvals.hold(call, hooks) : ask(approvals, call);
  };
}

/** The params to forward upstream: the input-response fields are for the gateway alone. */
export function withoutInputFields(params: Params | undefined): Params | undefined {
  if (params === undefined || !('requestState' in params || 'inputResponses' in params)) return params;
  const { requestState: _s, inputResponses: _r, ...rest } = params;
  return rest;
}
