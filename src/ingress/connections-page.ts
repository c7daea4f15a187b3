/**
 * The Connections page (docs/user-oauth.md): a signed-in person sees every upstream that takes their own
 * OAuth account, connects one (their browser runs the authorization code flow at the upstream's authorization
 * server) or disconnects it (the tokens are revoked there and deleted). It lives under `/approvals/` and
 * reuses the approval page's OpenID Connect sign-in, signed cookies, CSRF tokens, Origin checks and CSP.
 *
 *   GET  /approvals/connections                    the list (sign-in first)
 *   GET  /approvals/connections/<upstream>/connect starts connecting (sign-in first): 302 to the server
 *   GET  /approvals/connections/callback           the server sends the browser back here with code and state
 *   POST /approvals/connections/<upstream>/disconnect  (CSRF token, same origin); for a key: removes it
 *   POST /approvals/connections/<upstream>/key     a person's own API key for an `auth.userKey` upstream
 *
 * `state` is bound server-side to the signed-in person who started the flow: a callback is accepted only
 * from that person's session (someone else's state is refused), once. No code or token is ever on a page.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONNECTIONS_PATH, ConnectFailure, type UserKeys, type UserOAuth } from '../credentials/index.js';
import type { Logger } from '../telemetry/log.js';
import { escapeHtml, layout, messagePage, sendPage } from './approval-html.js';
import { ApproverSignIn, type ApprovalPageConfig, type ApproverSession } from './approver-signin.js';
import { readBody } from './body.js';
import { deriveKey, mac, sameString } from '../web/page-cookies.js';

export interface ConnectionsPageOptions {
  oauth: UserOAuth;
  keys: UserKeys;
  log: Logger;
  /** The approval page's secret and sign-in (`approvals.page`): the same cookies, so one sign-in serves both. */
  secret: string;
  page: ApprovalPageConfig;
  clientSecret?: string;
  /** Whether the approval page is served too (it then answers the sign-in callback itself). */
  approvalPageServed: boolean;
  now?: () => number;
}

const ACTION = /^\/approvals\/connections\/([A-Za-z0-9_-]{1,64})\/(connect|disconnect|key)$/;
const MAX_BODY_BYTES = 4 * 1024;

export class ConnectionsPage {
  private readonly signIn: ApproverSignIn;
  private readonly csrfKey: Buffer;

  constructor(private readonly opts: ConnectionsPageOptions, private readonly publicUrl: () => string) {
    this.csrfKey = deriveKey(opts.secret, 'csrf');
    this.signIn = new ApproverSignIn({ signIn: opts.page.signIn, clientSecret: opts.clientSecret, secret: opts.secret, sessionMinutes: opts.page.sessionMinutes, publicUrl, log: opts.log, ...(opts.now ? { now: opts.now } : {}) });
  }

  /** Answers the request if it is one of the page's routes; returns false otherwise. */
  route(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (path === '/approvals/callback' && !this.opts.approvalPageServed) {
      if (req.method === 'GET') void this.signIn.callback(req, res);
      else sendPage(res, 405, messagePage('Method not allowed', 'Use GET.'), { allow: 'GET' });
      return true;
    }
    if (path === CONNECTIONS_PATH) return this.only('GET', req, res, () => this.list(req, res));
    if (path === `${CONNECTIONS_PATH}/callback`) return this.only('GET', req, res, () => this.callback(req, res));
    const m = ACTION.exec(path);
    if (!m) return false;
    const [, upstream, action] = m as unknown as [string, string, 'connect' | 'disconnect' | 'key'];
    if (action === 'connect') return this.only('GET', req, res, () => this.connect(upstream, path, req, res));
    if (action === 'key') return this.only('POST', req, res, () => this.saveKey(upstream, req, res));
    return this.only('POST', req, res, () => this.disconnect(upstream, req, res));
  }

  private only(method: string, req: IncomingMessage, res: ServerResponse, run: () => Promise<void>): true {
    if (req.method !== method) sendPage(res, 405, messagePage('Method not allowed', `Use ${method}.`), { allow: method });
    else
      void run().catch((err: unknown) => {
        const f = err instanceof ConnectFailure ? err : new ConnectFailure(500, 'internal', 'The request could not be completed.');
        if (f.status === 500) this.opts.log.error({ reason: (err as Error).message }, 'connections page failed');
        else this.opts.log.warn({ code: f.code, status: f.status }, 'connections page refused a request');
        if (!res.headersSent) sendPage(res, f.status, messagePage('Connections', f.message, CONNECTIONS_PATH));
      });
    return true;
  }

  private csrf(session: ApproverSession, upstream: string): string {
    return mac(this.csrfKey, `${session.binding}\nconnections\n${upstream}`);
  }

  private async list(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = this.signIn.session(req);
    if (!session) return this.signIn.start(res, CONNECTIONS_PATH);
    const rows = await this.opts.oauth.status(session.name);
    const items = rows.map((r) => {
      const name = escapeHtml(r.upstream);
      if (!r.connected) return `<li><strong>${name}</strong>: not connected. <a href="${CONNECTIONS_PATH}/${name}/connect">Connect</a></li>`;
      const since = r.connectedAt ? ` since ${escapeHtml(new Date(r.connectedAt).toISOString())}` : '';
      const scope = r.scope ? ` (scope ${escapeHtml(r.scope)})` : '';
      return `<li><strong>${name}</strong>: connected${since}${scope}.
<form method="post" action="${CONNECTIONS_PATH}/${name}/disconnect" style="display:inline"><input type="hidden" name="csrf" value="${escapeHtml(this.csrf(session, r.upstream))}"><button type="submit">Disconnect</button></form></li>`;
    });
    items.push(...(await this.opts.keys.status(session.name)).map((k) => this.keyRow(session, k)));
    const body = `<p class="who">Signed in as ${escapeHtml(session.name)}. Your agents act on these upstreams with your own account, never anyone else's; they never see your tokens.</p>
<ul>${items.join('\n') || '<li>No upstream takes a personal connection.</li>'}</ul>`;
    sendPage(res, 200, layout('Connections', body));
  }

  private keyRow(session: ApproverSession, k: Awaited<ReturnType<UserKeys['status']>>[number]): string {
    const name = escapeHtml(k.upstream);
    const csrf = `<input type="hidden" name="csrf" value="${escapeHtml(this.csrf(session, k.upstream))}">`;
    const expiry = k.expiresAt ? ` It expires on ${escapeHtml(new Date(k.expiresAt).toISOString().slice(0, 10))}.` : '';
    const warning = k.expiring ? ' <span class="note">It expires soon: replace it.</span>' : '';
    const add = `<form method="post" action="${CONNECTIONS_PATH}/${name}/key">${csrf}<label>Your key <input type="password" name="key" autocomplete="off" required></label>
<label>Expires <input type="date" name="expires"></label> <button type="submit">Save key</button></form>`;
    if (!k.set) return `<li><strong>${name}</strong>: no key of yours.${add}</li>`;
    return `<li><strong>${name}</strong>: your key is set.${expiry}${warning}${add}
<form method="post" action="${CONNECTIONS_PATH}/${name}/disconnect">${csrf}<button type="submit">Remove key</button></form></li>`;
  }

  /** A same-origin form of the signed-in person carrying their CSRF token for `upstream`: its fields. */
  private async form(upstream: string, req: IncomingMessage): Promise<{ session: ApproverSession; params: URLSearchParams }> {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if ((origin !== undefined && origin !== new URL(this.publicUrl()).origin) || (site !== undefined && site !== 'same-origin')) {
      throw new ConnectFailure(403, 'forbidden_origin', 'Send this only from the Connections page itself.');
    }
    const session = this.signIn.session(req);
    if (!session) throw new ConnectFailure(401, 'unauthenticated', 'You are not signed in, or your session has expired.');
    const params = new URLSearchParams(await readBody(req, MAX_BODY_BYTES));
    const csrf = params.get('csrf');
    if (!csrf || !sameString(csrf, this.csrf(session, upstream))) throw new ConnectFailure(403, 'invalid_csrf', 'This form is not valid for your session. Reload the Connections page.');
    return { session, params };
  }

  private async saveKey(upstream: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { session, params } = await this.form(upstream, req);
    const expires = params.get('expires') ?? '';
    if (expires !== '' && !/^\d{4}-\d{2}-\d{2}$/.test(expires)) throw new ConnectFailure(400, 'invalid_expiry', 'The expiry is a date (YYYY-MM-DD).');
    // The key is valid through the day given.
    await this.opts.keys.set(upstream, session.name, params.get('key') ?? '', expires === '' ? undefined : Date.parse(`${expires}T23:59:59Z`));
    sendPage(res, 200, messagePage('Key saved', `Your key for ${upstream} is saved. Your agent can retry its call now.`, CONNECTIONS_PATH));
  }

  private async connect(upstream: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = this.signIn.session(req);
    if (!session) return this.signIn.start(res, path);
    const location = await this.opts.oauth.begin(upstream, session.name);
    res.writeHead(302, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    res.end();
  }

  private async callback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const query = new URL(req.url ?? '/', 'http://callback').searchParams;
    const session = this.signIn.session(req);
    if (!session) throw new ConnectFailure(401, 'unauthenticated', 'You are not signed in to the gateway. Open the Connections page, sign in, and connect again.');
    const error = query.get('error');
    if (error !== null) throw new ConnectFailure(400, 'authorization_refused', `The authorization server did not connect your account (${/^[\w.-]{1,64}$/.test(error) ? error : 'unknown error'}).`);
    const state = query.get('state');
    const code = query.get('code');
    if (!state || !code || state.length > 512 || code.length > 4096) throw new ConnectFailure(400, 'invalid_request', 'The authorization response carries no code or state.');
    const upstream = await this.opts.oauth.finish(session.name, state, code);
    sendPage(res, 200, messagePage('Connected', `Your account is connected to ${upstream}. Your agent can retry its call now.`, CONNECTIONS_PATH));
  }

  private async disconnect(upstream: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { session } = await this.form(upstream, req);
    if (this.opts.keys.upstreams().includes(upstream)) {
      const removed = await this.opts.keys.remove(upstream, session.name);
      return sendPage(res, 200, messagePage('Key removed', removed ? `Your key for ${upstream} is deleted.` : `You had no key for ${upstream}.`, CONNECTIONS_PATH));
    }
    const done = await this.opts.oauth.disconnect(upstream, session.name);
    sendPage(res, 200, messagePage('Disconnected', done ? `Your account is disconnected from ${upstream}; its tokens were revoked and deleted.` : `You had no connection to ${upstream}.`, CONNECTIONS_PATH));
  }
}
