/**
 * The admin HTTP API under `/admin/`, for approvers and operators. Every request is authenticated with the
 * gateway's own Authenticator from the bearer token (401 with a WWW-Authenticate challenge, as on the MCP
 * endpoint); each route then asks for its scope (403 insufficient_scope). JSON in and out, bodies up to
 * 16 KiB. Unknown paths are 404 and known paths with another method 405, both only after authentication.
 *
 *   GET  /admin/approvals?state=pending          approver or admin scope
 *   GET  /admin/approvals/<id>                   approver or admin scope
 *   POST /admin/approvals/<id>/approve|deny      approver scope, and a user in the token   {reason?}
 *   POST /admin/revocations                      admin scope   {kind, value, reason?}
 *   GET  /admin/tasks?state=active               admin scope
 *   POST /admin/tasks/<id>/end                   admin scope
 *   GET  /admin/tools?upstream=&state=           admin scope (tool integrity, see integrity.ts)
 *   GET  /admin/tools/<upstream>/<name>/diff     admin scope
 *   POST /admin/tools/<upstream>/<name>/approve|reject   admin scope   {digest?, kind?}
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError, challenge, type Principal } from '../identity/index.js';
import { WardenError } from '../protocol/errors.js';
import { decideApproval, listApprovals, showApproval } from './approvals.js';
import { AdminContext, type AdminOptions, type Answer } from './context.js';
import { AdminError, readJson, sendJson } from './http.js';
import { endTask, listTasks, revokeRoute } from './operations.js';
import { decidePinRoute, diffPin, listPins } from './integrity.js';

type Handler = (ctx: AdminContext, query: URLSearchParams, req: IncomingMessage) => Promise<Answer>;

const ID = '([0-9A-Za-z_-]{1,64})';
/** A tool or prompt name as MCP allows it (letters, digits, `_`, `-`, `.`), at most 128 characters. */
const NAME = '([0-9A-Za-z_.-]{1,128})';
const ROUTES: ReadonlyArray<{ path: RegExp; methods: Record<string, Handler> }> = [
  { path: /^\/admin\/approvals$/, methods: { GET: (ctx, q) => listApprovals(ctx, q) } },
  { path: new RegExp(`^/admin/approvals/${ID}$`), methods: { GET: (ctx) => showApproval(ctx, ctx.params[0]!) } },
  { path: new RegExp(`^/admin/approvals/${ID}/(approve|deny)$`), methods: { POST: async (ctx, _q, req) => decideApproval(ctx, ctx.params[0]!, ctx.params[1] as 'approve' | 'deny', await readJson(req)) } },
  { path: /^\/admin\/revocations$/, methods: { POST: async (ctx, _q, req) => revokeRoute(ctx, await readJson(req)) } },
  { path: /^\/admin\/tasks$/, methods: { GET: (ctx, q) => listTasks(ctx, q) } },
  { path: new RegExp(`^/admin/tasks/${ID}/end$`), methods: { POST: (ctx) => endTask(ctx, ctx.params[0]!) } },
  { path: /^\/admin\/tools$/, methods: { GET: (ctx, q) => listPins(ctx, q) } },
  { path: new RegExp(`^/admin/tools/${ID}/${NAME}/diff$`), methods: { GET: (ctx, q) => diffPin(ctx, ctx.params[0]!, ctx.params[1]!, q) } },
  {
    path: new RegExp(`^/admin/tools/${ID}/${NAME}/(approve|reject)$`),
    methods: { POST: async (ctx, _q, req) => decidePinRoute(ctx, ctx.params[0]!, ctx.params[1]!, ctx.params[2] as 'approve' | 'reject', await readJson(req)) },
  },
];

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export class AdminApi {
  constructor(private readonly opts: AdminOptions) {}

  /** Answers the request if its path is under /admin; returns false otherwise. */
  route(path: string, req: IncomingMessage, res: ServerResponse, peerSubjectAltName?: string): boolean {
    if (path !== '/admin' && !path.startsWith('/admin/')) return false;
    void this.handle(path, req, res, peerSubjectAltName);
    return true;
  }

  private async handle(path: string, req: IncomingMessage, res: ServerResponse, peerSubjectAltName?: string): Promise<void> {
    const startedAt = (this.opts.now ?? Date.now)();
    const query = new URL(req.url ?? '/', 'http://admin.invalid').searchParams;
    let ctx: AdminContext | undefined;
    try {
      const principal = await this.authenticate(req, peerSubjectAltName);
      const match = ROUTES.map((r) => ({ r, m: r.path.exec(path) })).find((x) => x.m !== null);
      if (!match) throw new AdminError(404, 'not_found', 'No such admin resource');
      const handler = match.r.methods[req.method ?? ''];
      const allow = Object.keys(match.r.methods).join(', ');
      if (!handler) throw new AdminError(405, 'method_not_allowed', `Use ${allow}`, { allow });
      ctx = new AdminContext(this.opts, principal, startedAt, match.m!.slice(1));
      const answer = await handler(ctx, query, req);
      sendJson(res, answer.status, answer.body);
    } catch (err) {
      const e = this.refusal(err);
      if (e.status >= 500) this.opts.log.error({ err, path }, 'admin API failed');
      else this.opts.log.warn({ path, status: e.status, code: e.code, agent: ctx?.principal.agent }, 'admin API refused');
      if (e.status === 401 || e.code === 'insufficient_scope') await this.recordRefusal(startedAt, path, req.method, ctx?.principal ?? null, e.code);
      sendJson(res, e.status, { error: e.code, message: e.message }, e.headers);
      if (e.code === 'body_too_large') res.socket?.destroy();
    }
  }

  /** The caller, from the bearer token (or the client certificate on an mTLS listener); revoked callers are refused. */
  private async authenticate(req: IncomingMessage, peerSubjectAltName?: string): Promise<Principal> {
    let principal: Principal;
    try {
      principal = await this.opts.authenticator.authenticate({ authorization: header(req, 'authorization'), url: req.url, peerSubjectAltName });
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      throw new AdminError(err.status, err.code === 'insufficient_scope' ? 'insufficient_scope' : 'unauthenticated', err.description, {
        'www-authenticate': challenge(err, this.opts.resourceMetadataUrl, this.opts.requiredScopes),
      });
    }
    this.opts.checkRevoked?.(principal);
    return principal;
  }

  private refusal(err: unknown): AdminError {
    if (err instanceof AdminError) return err;
    if (err instanceof WardenError && err.httpStatus >= 400) return new AdminError(err.httpStatus, err.code, err.message);
    return new AdminError(500, 'internal', 'The request could not be completed');
  }

  /** Refused credentials and missing scopes are audit events, as on the MCP endpoint. */
  private async recordRefusal(startedAt: number, path: string, method: string | undefined, p: Principal | null, code: string): Promise<void> {
    await this.opts.audit
      .record({
        startedAt,
        agent: p?.agent ?? null,
        user: p?.user ?? null,
        tenant: p?.tenant ?? null,
        chain: p?.chain ?? [],
        authMethod: p?.method ?? null,
        task: p?.task ?? null,
        sessionId: null,
        protocolVersion: null,
        method: `admin/${method ?? '?'}`,
        upstream: null,
        target: path,
        argsDigest: null,
        outcome: 'denied',
        errorCode: code,
      })
      .catch((err: unknown) => this.opts.log.error({ err }, 'admin API: could not record a refusal'));
  }
}
