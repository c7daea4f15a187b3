/**
 * The approval page: `GET /approvals/<uuid>` shows one held request to a signed-in approver, with Approve
 * and Deny buttons when they may decide it; `POST /approvals/<uuid>` is that decision; `GET
 * /approvals/callback` finishes the sign-in (src/ingress/approver-signin.ts). The gateway links here from
 * its approval prompts (src/approvals/page-url.ts).
 *
 * Ids are matched as strict UUIDs, so `/approvals/callback` and the signed callback route
 * `POST /approvals/<id>/decision` (approval-routes.ts) are never shadowed.
 *
 * A decision needs: a valid session (else 401), an `Origin` equal to the gateway's public origin and a
 * `Sec-Fetch-Site` of `same-origin` when the browser sends them, and a CSRF token bound to this session and
 * this request (else 403). The approval
 * service has the last word on who may decide (403 with its reason); an unknown id is 404, a request
 * already decided or expired 409, a malformed form 400, a large body 413. Every decision and every refused
 * POST is an audit event (authMethod `oidc`), like the signed callback's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApprovalService } from '../approvals/index.js';
import type { AuditDecision } from '../audit/event.js';
import type { AuditRecorder } from '../audit/index.js';
import { WardenError } from '../protocol/errors.js';
import type { ApprovalRecord, ApprovalStore } from '../store/types.js';
import type { Logger } from '../telemetry/log.js';
import { messagePage, requestPage, resultPage, sendPage } from './approval-html.js';
import { APPROVAL_PATH, ApproverSignIn, type ApprovalPageConfig, type ApproverSession } from './approver-signin.js';
import { readBody } from './body.js';
import { deriveKey, mac, sameString } from '../web/page-cookies.js';
import { decideRequest, recordDecision, Refusal } from '../web/approval-decision.js';

export { LOGIN_COOKIE, SESSION_COOKIE, type ApprovalPageConfig } from './approver-signin.js';

export interface ApprovalPageOptions {
  service: ApprovalService;
  /** Read access to requests: the page shows them, and tells 404 and 409 from a refused approver (403). */
  store: Pick<ApprovalStore, 'get'>;
  audit: AuditRecorder;
  log: Logger;
  /** The page secret (`approvals.page.secretEnv`), at least 32 bytes: keys the cookies and CSRF tokens. */
  secret: string;
  /** `approvals.page`. */
  page: ApprovalPageConfig;
  /** The value of `approvals.page.signIn.clientSecretEnv`, when set. */
  clientSecret?: string;
  /** `approvals.approvers` and `approvals.separationOfDuties`: only to explain on the page why someone may not decide. */
  approvers: readonly string[];
  separationOfDuties: boolean;
  /** Epoch milliseconds; injected for tests. */
  now?: () => number;
}

const MAX_BODY_BYTES = 8 * 1024;
const MAX_REASON = 2000;

const TITLES: Record<number, string> = { 400: 'Not a valid decision', 401: 'Not signed in', 403: 'Refused', 404: 'Unknown request', 409: 'Cannot be decided', 413: 'Too large', 500: 'Error' };

interface DecisionForm {
  decision: 'approve' | 'deny';
  reason: string | null;
}

function parseForm(params: URLSearchParams): DecisionForm {
  const decisions = params.getAll('decision');
  const decision = decisions[0];
  if (decisions.length !== 1 || (decision !== 'approve' && decision !== 'deny')) throw new Refusal(400, 'invalid_request', 'Choose Approve or Deny.');
  const reason = params.get('reason')?.trim() ?? '';
  if (reason.length > MAX_REASON) throw new Refusal(400, 'invalid_request', `The reason can be at most ${MAX_REASON} characters.`);
  return { decision, reason: reason === '' ? null : reason };
}

export class ApprovalPage {
  private readonly signIn: ApproverSignIn;
  private readonly csrfKey: Buffer;

  /** `publicUrl` is read per request: the gateway's port is known only once it listens. */
  constructor(
    private readonly opts: ApprovalPageOptions,
    private readonly publicUrl: () => string,
  ) {
    const { page } = opts;
    this.csrfKey = deriveKey(opts.secret, 'csrf');
    this.signIn = new ApproverSignIn({ signIn: page.signIn, clientSecret: opts.clientSecret, secret: opts.secret, sessionMinutes: page.sessionMinutes, publicUrl, log: opts.log, ...(opts.now ? { now: opts.now } : {}) });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Answers the request if it is one of the page's routes; returns false otherwise. */
  route(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (path === '/approvals/callback') {
      if (req.method === 'GET') void this.signIn.callback(req, res);
      else sendPage(res, 405, messagePage('Method not allowed', 'Use GET.'), { allow: 'GET' });
      return true;
    }
    const m = APPROVAL_PATH.exec(path);
    if (!m) return false;
    const id = m[1]!;
    if (req.method === 'GET') void this.show(id, path, req, res);
    else if (req.method === 'POST') void this.decide(id, req, res);
    else sendPage(res, 405, messagePage('Method not allowed', 'Use GET or POST.'), { allow: 'GET, POST' });
    return true;
  }

  /** The token a decision form must carry: bound to this sign-in and this request. */
  private csrf(session: ApproverSession, id: string): string {
    return mac(this.csrfKey, `${session.binding}\n${id}`);
  }

  /** Why `name` may not decide `r` (mirrors ApprovalService.decide, which is what enforces it), or null. */
  private refusal(name: string, r: ApprovalRecord): string | null {
    if (!this.opts.approvers.includes(name)) return `${name} is not listed in approvals.approvers`;
    if (name === r.agent) return 'you are the agent that made this request';
    if (r.chain.includes(name)) return 'you are an agent that delegated this request';
    if (this.opts.separationOfDuties && name === r.user) return 'with separationOfDuties the user an agent acts for may not approve its calls';
    return null;
  }

  private async show(id: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const session = this.signIn.session(req);
      // Nothing about a request, not even whether it exists, is shown before sign-in.
      if (!session) return await this.signIn.start(res, path);
      const record = await this.opts.store.get(id);
      if (!record) return sendPage(res, 404, messagePage(TITLES[404]!, `There is no approval request ${id}.`));
      const expired = Date.parse(record.expiresAt) <= this.now();
      const call = await this.opts.service.shownCall(record);
      sendPage(res, 200, requestPage({ record, name: session.name, expired, refusal: this.refusal(session.name, record), csrf: this.csrf(session, id), call }));
    } catch (err) {
      this.opts.log.error({ err, approvalId: id }, 'approval page failed');
      if (!res.headersSent) sendPage(res, 500, messagePage(TITLES[500]!, 'The request could not be shown.'));
    }
  }

  private async decide(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = this.now();
    let form: DecisionForm | undefined;
    let record: ApprovalRecord | undefined;
    let approver: string | undefined;
    try {
      // A browser names the page a form came from (Origin, and Sec-Fetch-Site where supported); one from
      // another site is refused whatever it carries.
      const origin = req.headers.origin;
      const site = req.headers['sec-fetch-site'];
      if ((origin !== undefined && origin !== new URL(this.publicUrl()).origin) || (site !== undefined && site !== 'same-origin')) {
        throw new Refusal(403, 'forbidden_origin', 'A decision can only be sent from the approval page itself.');
      }
      const session = this.signIn.session(req);
      if (!session) throw new Refusal(401, 'unauthenticated', 'You are not signed in, or your session has expired. Open the request again to sign in.');
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/x-www-form-urlencoded') throw new Refusal(400, 'invalid_request', 'A decision is sent with the form on the request page.');
      const params = new URLSearchParams(await readBody(req, MAX_BODY_BYTES));
      const csrf = params.get('csrf');
      if (!csrf || !sameString(csrf, this.csrf(session, id))) throw new Refusal(403, 'invalid_csrf', 'This form is not valid for your session. Reload the request page and decide again.');
      // Only now is the request known to come from the signed-in approver's own page.
      approver = session.name;
      form = parseForm(params);
      const { done, decision } = await decideRequest({ service: this.opts.service, store: this.opts.store, now: () => this.now(), approveShownOnly: true }, id, approver, form.decision, form.reason, (r) => (record = r));
      // The decision is stored: answer it even if its audit event could not be (the failure is logged).
      await this.record(startedAt, id, done, form, approver, decision).catch((err: unknown) => this.opts.log.error({ err, approvalId: id }, 'could not record an approval decision'));
      sendPage(res, 200, resultPage(done));
    } catch (err) {
      const r =
        err instanceof Refusal
          ? err
          : err instanceof WardenError && err.code === 'body_too_large'
            ? new Refusal(413, 'body_too_large', 'The form is too large.')
            : new Refusal(500, 'internal', 'The decision could not be made.');
      if (r.status === 500) this.opts.log.error({ err, approvalId: id }, 'approval page decision failed');
      else this.opts.log.warn({ approvalId: id, approver, status: r.status, code: r.code }, 'approval page decision refused');
      await this.record(startedAt, id, record, form, approver, null, r.code).catch(() => undefined);
      // After a refused body the rest of it is not read: the connection is closed rather than reused.
      sendPage(res, r.status, messagePage(TITLES[r.status] ?? 'Refused', r.message, r.status === 404 ? undefined : `/approvals/${id}`), r.status === 413 ? { connection: 'close' } : {});
    }
  }

  /** The decision, or a refused attempt, as an audit event (authMethod `oidc` once the form proved it came from the page). */
  private record(startedAt: number, id: string, record: ApprovalRecord | undefined, form: DecisionForm | undefined, approver: string | undefined, decision: AuditDecision | null, errorCode: string | null = null) {
    return recordDecision(this.opts.audit, { startedAt, record, id, verb: form?.decision, authMethod: approver !== undefined ? 'oidc' : null, decision, errorCode });
  }
}
