/**
 * The governance console under `/console/`: sign-in (OpenID Connect, src/web/oidc-signin.ts), roles, the
 * checks every action passes, and the dispatch to the page modules (src/console/pages/).
 *
 * Every request but the stylesheet, the script and the sign-in callback needs a session; a GET without
 * one starts the sign-in, a POST without one is 401. A person no role list names is refused (403) on
 * every page. A POST (an action) needs, in order: an `Origin` equal to the gateway's public origin and a
 * `Sec-Fetch-Site` of `same-origin` when the browser sends them, a form body, the session's CSRF token,
 * and the route's role. Each action, and each refused POST, is an audit event (authMethod `oidc`, user the
 * signed-in person). The session cookie (Path=/console) is keyed apart from the approval page's, so one is
 * never accepted for the other.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readLimitedBody } from '../core/read-body.js';
import type { Logger } from '../telemetry/log.js';
import { mac, deriveKey, sameString } from '../web/page-cookies.js';
import { OidcSignIn, type SignInSession } from '../web/oidc-signin.js';
import { ConsoleError, type ActionAudit, type Answer, type ConsoleServices, type PageContext, type Session } from './context.js';
import { escapeHtml, layout, messagePage, send } from './html.js';
import { ROUTES } from './pages/index.js';
import { allows, roleOf } from './roles.js';
import { serveStatic } from './static.js';
import { STREAMS, type StreamRoute } from './pages/tail.js';

export const CONSOLE_SESSION_COOKIE = 'warden_console';
export const CONSOLE_LOGIN_COOKIE = 'warden_console_signin';

/** Forms are small; the largest is a candidate policy set for replay. */
const MAX_BODY_BYTES = 256 * 1024;

const TITLES: Record<number, string> = { 400: 'Not a valid request', 401: 'Not signed in', 403: 'Refused', 404: 'Not found', 405: 'Method not allowed', 409: 'Cannot be done', 413: 'Too large', 500: 'Error' };

/** A relative console path (with an optional query) a browser may be sent to after sign-in. */
export function consoleNext(next: unknown): string | undefined {
  if (typeof next !== 'string' || next.length > 2048) return undefined;
  const m = /^(\/console(?:\/[A-Za-z0-9._~-]+)*\/?)(\?[A-Za-z0-9._~%&=+:-]*)?$/.exec(next);
  if (!m || m[1]!.split('/').some((s) => s === '.' || s === '..')) return undefined;
  return next;
}

export class ConsoleServer {
  private readonly signIn: OidcSignIn;
  private readonly csrfKey: Buffer;

  constructor(
    private readonly services: ConsoleServices,
    private readonly publicUrl: () => string,
  ) {
    const c = services.config.console;
    if (!c.signIn) throw new Error('console: no signIn configured');
    this.csrfKey = deriveKey(services.secret, 'console-csrf');
    this.signIn = new OidcSignIn({
      signIn: c.signIn,
      clientSecret: services.clientSecret,
      secret: services.secret,
      sessionMinutes: c.sessionMinutes,
      publicUrl,
      log: services.log,
      ...(services.now ? { now: services.now } : {}),
      site: {
        label: 'console',
        who: 'console user',
        cookiePath: '/console',
        sessionCookie: CONSOLE_SESSION_COOKIE,
        loginCookie: CONSOLE_LOGIN_COOKIE,
        sessionKey: 'console-session',
        loginKey: 'console-login',
        callbackUrl: (u) => new URL('/console/callback', u).href,
        safeNext: consoleNext,
        retry: 'Open the console to sign in again.',
        render: (res, status, title, message, headers) => send(res, status, messagePage(title, message, '/console'), headers),
      },
    });
  }

  private get log(): Logger {
    return this.services.log;
  }

  private now(): number {
    return (this.services.now ?? Date.now)();
  }

  /** Answers the request if it is under /console; returns false otherwise. */
  route(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (path !== '/console' && !path.startsWith('/console/')) return false;
    void this.handle(path, req, res).catch((err: unknown) => {
      this.log.error({ err, path }, 'console failed');
      send(res, 500, messagePage(TITLES[500]!, 'The page could not be shown.'));
    });
    return true;
  }

  private async handle(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (serveStatic(path, req, res)) return;
    if (path === '/console/callback') {
      if (req.method === 'GET') return this.signIn.callback(req, res);
      return send(res, 405, messagePage(TITLES[405]!, 'Use GET.'), { allow: 'GET' });
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (method !== 'GET' && method !== 'POST') return send(res, 405, messagePage(TITLES[405]!, 'Use GET or POST.'), { allow: 'GET, POST' });
    const signed = this.signIn.session(req);
    if (!signed) {
      if (method === 'GET') return this.signIn.start(res, consoleNext(req.url) ?? '/console');
      return this.refused(req, res, path, null, new ConsoleError(401, 'unauthenticated', 'You are not signed in, or your session has expired. Open the console to sign in.'));
    }
    const role = roleOf(this.services.config.console.roles, signed.name, signed.groups);
    if (role === undefined) {
      return this.refused(req, res, path, signed, new ConsoleError(403, 'no_role', `${signed.name} has no console role (console.roles).`));
    }
    const session: Session = { name: signed.name, groups: signed.groups, role, csrf: mac(this.csrfKey, signed.binding) };
    const query = new URL(req.url ?? '/', 'http://console.invalid').searchParams;
    if (method === 'GET') {
      const stream = STREAMS.find((s) => s.path.test(path));
      if (stream) return this.stream(stream, session, signed.expiresAt, query, req, res);
    }
    const matches = ROUTES.filter((r) => r.path.test(path));
    const route = matches.find((r) => r.method === method);
    if (!route) {
      if (matches.length === 0 && path !== '/console/signout') return this.page(res, session, path, { title: TITLES[404]!, body: '<p>There is no such console page.</p>', status: 404 });
      if (path === '/console/signout' && method === 'POST') return this.signOut(req, res, session);
      const allow = [...new Set(matches.map((r) => r.method))].join(', ') || 'POST';
      return send(res, 405, messagePage(TITLES[405]!, `Use ${allow}.`), { allow });
    }
    const params = route.path.exec(path)!.slice(1);
    const ctx = this.context(session);
    try {
      if (method === 'POST') {
        const form = await this.checkedForm(req, session);
        if (!allows(role, route.role)) throw new ConsoleError(403, 'forbidden', `This needs the ${route.role} role; you are a ${role}.`);
        return this.page(res, session, route.nav, await route.handle(ctx, params, form));
      }
      if (!allows(role, route.role)) throw new ConsoleError(403, 'forbidden', `This page needs the ${route.role} role; you are a ${role}.`);
      this.page(res, session, route.nav, await route.handle(ctx, params, query));
    } catch (err) {
      if (!(err instanceof ConsoleError)) throw err;
      if (method === 'POST') return this.refused(req, res, path, signed, err, session, route.nav);
      this.page(res, session, route.nav, { title: TITLES[err.status] ?? 'Refused', body: `<p>${escapeHtml(err.message)}</p>`, status: err.status });
    }
  }

  private context(session: Session): PageContext {
    return {
      services: this.services,
      session,
      now: () => this.now(),
      record: (draft) => this.record(session.name, draft),
    };
  }

  private record(user: string | null, draft: ActionAudit): Promise<void> {
    return this.services.audit
      .record({ user, ...draft, startedAt: this.now(), authMethod: 'oidc', sessionId: null, protocolVersion: null, argsDigest: null })
      .then(() => undefined)
      .catch((err: unknown) => this.log.error({ err, method: draft.method }, 'console: could not record an audit event'));
  }

  /** The form of a POST, once it is shown to come from the console page of this session. */
  private async checkedForm(req: IncomingMessage, session: Session): Promise<URLSearchParams> {
    // A browser names the page a form came from; one from another site is refused whatever it carries.
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if ((origin !== undefined && origin !== new URL(this.publicUrl()).origin) || (site !== undefined && site !== 'same-origin')) {
      throw new ConsoleError(403, 'forbidden_origin', 'An action can only be sent from the console itself.');
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') throw new ConsoleError(400, 'invalid_request', 'An action is sent with a console form.');
    const body = await readLimitedBody(req, MAX_BODY_BYTES, () => new ConsoleError(413, 'body_too_large', 'The form is too large.'));
    const form = new URLSearchParams(body);
    const csrf = form.get('csrf');
    if (!csrf || !sameString(csrf, session.csrf)) throw new ConsoleError(403, 'invalid_csrf', 'This form is not valid for your session. Reload the page and try again.');
    return form;
  }

  private async signOut(req: IncomingMessage, res: ServerResponse, session: Session): Promise<void> {
    try {
      await this.checkedForm(req, session);
    } catch (err) {
      if (err instanceof ConsoleError) return this.refused(req, res, '/console/signout', session, err, session);
      throw err;
    }
    await this.record(session.name, { agent: null, tenant: null, chain: [], method: 'console/signout', upstream: null, target: null, outcome: 'ok', errorCode: null });
    send(res, 200, messagePage('Signed out', 'You are signed out of the console.', '/console'), { 'set-cookie': this.signIn.signOutCookie() });
  }

  /** A refused request: logged; a refused POST (an attempted action) is also an audit event. */
  private async refused(req: IncomingMessage, res: ServerResponse, path: string, who: Pick<SignInSession, 'name'> | null, err: ConsoleError, session?: Session, nav = ''): Promise<void> {
    this.log.warn({ path, person: who?.name, status: err.status, code: err.code }, 'console: request refused');
    if (req.method === 'POST') {
      await this.record(who?.name ?? null, { agent: null, tenant: null, chain: [], method: 'console/action', upstream: null, target: path, outcome: 'denied', errorCode: err.code });
    }
    // After a refused body the rest of it is not read: the connection is closed rather than reused.
    const headers: Record<string, string> = err.status === 413 ? { connection: 'close' } : {};
    const title = TITLES[err.status] ?? 'Refused';
    if (session) return this.page(res, session, nav, { title, body: `<p>${escapeHtml(err.message)}</p>`, status: err.status }, headers);
    send(res, err.status, messagePage(title, err.message, '/console'), headers);
  }

  private page(res: ServerResponse, session: Session, nav: string, answer: Answer, headers: Record<string, string> = {}): void {
    if ('redirect' in answer) {
      res.writeHead(303, { location: answer.redirect, 'cache-control': 'no-store' });
      return void res.end();
    }
    send(res, answer.status ?? 200, layout(answer.title, answer.body, { name: session.name, role: session.role, csrf: session.csrf, current: nav }), headers);
  }

  private async stream(s: StreamRoute, session: Session, expiresAt: number, query: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allows(session.role, s.role)) return send(res, 403, messagePage(TITLES[403]!, `This needs the ${s.role} role.`));
    // Checked again before each send, as every other request checks it: the session's end and the roles in force.
    const allowed = () => {
      const role = roleOf(this.services.config.console.roles, session.name, session.groups);
      return role !== undefined && allows(role, s.role) && this.now() < expiresAt * 1000;
    };
    await s.open(this.context(session), query, req, res, allowed);
  }
}
