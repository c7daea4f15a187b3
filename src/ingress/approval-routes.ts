/**
 * `POST /approvals/<id>/decision`: an approver's decision sent by a trusted integration (a chat bot, a
 * ticketing hook) that holds the callback secret. The body is `{"id":ID,"decision":"approve"|"deny",
 * "approver":NAME,"reason"?:TEXT}`, signed like the audit webhook (`X-Warden-Timestamp`,
 * `X-Warden-Signature`). The signature covers the body only, so the body names the request: a decision
 * signed for one request cannot be sent to another.
 *
 * Refused: a missing or wrong signature, or a timestamp outside the tolerance (401); the same signed request
 * twice within the tolerance (409, each replica remembers the signatures it accepted); an unknown id
 * (404); an approver the service refuses (403, with why: not in approvals.approvers, the agent itself, ...);
 * a request already decided or expired (409). Every answer, accepted or not, is an audit event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApprovalService } from '../approvals/index.js';
import type { AuditDecision } from '../audit/event.js';
import type { AuditRecorder } from '../audit/index.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from '../audit/sinks/webhook.js';
import { WardenError } from '../protocol/errors.js';
import type { ApprovalRecord, ApprovalStore } from '../store/types.js';
import type { Logger } from '../telemetry/log.js';
import { readBody } from './body.js';
import { decideRequest, recordDecision, Refusal } from '../web/approval-decision.js';

export interface ApprovalCallbackOptions {
  service: ApprovalService;
  /** Read access to requests: tells an unknown id (404) and a decided or expired one (409) from a refused approver (403). */
  store: Pick<ApprovalStore, 'get'>;
  audit: AuditRecorder;
  /** The HMAC key (`approvals.callback.secretEnv`); at least 16 bytes. */
  secret: string;
  toleranceSeconds: number;
  log: Logger;
  /** Epoch milliseconds; injected for tests. */
  now?: () => number;
}

const PATH = /^\/approvals\/([0-9A-Za-z_-]{1,64})\/decision$/;
const MAX_BODY_BYTES = 16 * 1024;
/** Signatures remembered at once; beyond this (only reachable by a secret holder) requests are refused, not forgotten. */
const MAX_REMEMBERED = 10_000;

interface DecisionBody {
  decision: 'approve' | 'deny';
  approver: string;
  reason: string | null;
}

function parseDecision(raw: string, id: string): DecisionBody {
  let b: unknown;
  try {
    b = JSON.parse(raw);
  } catch {
    throw new Refusal(400, 'invalid_request', 'The body is not JSON');
  }
  const o = (typeof b === 'object' && b !== null ? b : {}) as Record<string, unknown>;
  if (o.id !== id) throw new Refusal(400, 'invalid_request', 'id in the body must be the id in the path');
  if (o.decision !== 'approve' && o.decision !== 'deny') throw new Refusal(400, 'invalid_request', 'decision must be "approve" or "deny"');
  if (typeof o.approver !== 'string' || o.approver.length === 0 || o.approver.length > 256) throw new Refusal(400, 'invalid_request', 'approver must be a non-empty string');
  if (o.reason !== undefined && o.reason !== null && (typeof o.reason !== 'string' || o.reason.length > 2000)) throw new Refusal(400, 'invalid_request', 'reason must be a string of at most 2000 characters');
  return { decision: o.decision, approver: o.approver, reason: typeof o.reason === 'string' && o.reason !== '' ? o.reason : null };
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...extra });
  res.end(text);
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

export class ApprovalCallback {
  /** Accepted signatures -> epoch ms after which their timestamp is stale anyway. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly opts: ApprovalCallbackOptions) {
    if (Buffer.byteLength(opts.secret ?? '') < 16) throw new Error('approval callback: the secret must be at least 16 bytes');
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Answers the request if it is for the decision endpoint; returns false otherwise. */
  route(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    const m = PATH.exec(path);
    if (!m) return false;
    void this.handle(m[1]!, req, res);
    return true;
  }

  private async handle(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = this.now();
    let body: DecisionBody | undefined;
    let record: ApprovalRecord | undefined;
    let signed = false;
    try {
      if (req.method !== 'POST') throw new Refusal(405, 'method_not_allowed', 'Use POST');
      const raw = await readBody(req, MAX_BODY_BYTES);
      this.authenticate(req, raw);
      signed = true;
      body = parseDecision(raw, id);
      const { done, decision } = await decideRequest({ service: this.opts.service, store: this.opts.store, now: () => this.now() }, id, body.approver, body.decision, body.reason, (r) => (record = r));
      // The decision is stored: answer it even if its audit event could not be (the failure is logged).
      await this.record(startedAt, id, done, body, true, decision).catch((err: unknown) => this.opts.log.error({ err, approvalId: id }, 'could not record an approval decision'));
      json(res, 200, { id, state: done.state });
    } catch (err) {
      const r =
        err instanceof Refusal
          ? err
          : err instanceof WardenError && err.code === 'body_too_large'
            ? new Refusal(413, 'body_too_large', err.message)
            : new Refusal(500, 'internal', 'The decision could not be made');
      if (r.status === 500) this.opts.log.error({ err, approvalId: id }, 'approval callback failed');
      else this.opts.log.warn({ approvalId: id, status: r.status, code: r.code }, 'approval callback refused');
      await this.record(startedAt, id, record, body, signed, null, r.code).catch(() => undefined);
      json(res, r.status, { error: r.code, message: r.message }, r.status === 405 ? { allow: 'POST' } : {});
    }
  }

  /** A valid signature over this body, a fresh timestamp, and a signature not used before. */
  private authenticate(req: IncomingMessage, raw: string): void {
    const headers = { timestamp: header(req, TIMESTAMP_HEADER), signature: header(req, SIGNATURE_HEADER) };
    const now = this.now();
    if (!headers.timestamp || !headers.signature) throw new Refusal(401, 'unauthenticated', 'A signed request is required (X-Warden-Timestamp, X-Warden-Signature)');
    // The signature is checked first, so only a holder of the secret learns whether a timestamp was fresh.
    if (!verifyWebhookSignature(this.opts.secret, headers, raw, { toleranceSeconds: Infinity, now })) throw new Refusal(401, 'unauthenticated', 'The signature is not valid');
    const { toleranceSeconds } = this.opts;
    if (!verifyWebhookSignature(this.opts.secret, headers, raw, { toleranceSeconds, now })) throw new Refusal(401, 'unauthenticated', `The timestamp is more than ${toleranceSeconds} s from now`);
    for (const [sig, until] of this.seen) if (until < now) this.seen.delete(sig);
    if (this.seen.has(headers.signature)) throw new Refusal(409, 'replayed', 'This signed request was already received');
    if (this.seen.size >= MAX_REMEMBERED) throw new Refusal(503, 'busy', 'Too many decisions at once; try again shortly');
    this.seen.set(headers.signature, (Number(headers.timestamp) + toleranceSeconds + 1) * 1000);
  }

  /** The decision, or a refused attempt, as an audit event (like `warden approvals approve`, authMethod `webhook`). */
  private record(startedAt: number, id: string, record: ApprovalRecord | undefined, body: DecisionBody | undefined, signed: boolean, decision: AuditDecision | null, errorCode: string | null = null) {
    return recordDecision(this.opts.audit, { startedAt, record, id, verb: body?.decision, authMethod: signed ? 'webhook' : null, decision, errorCode });
  }
}
