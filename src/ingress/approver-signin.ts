/**
 * The approval page's sign-in: the shared OpenID Connect relying party (src/web/oidc-signin.ts) with the
 * page's cookies (Path=/approvals), its callback `/approvals/callback`, and `/approvals/<uuid>` as the only
 * place a browser is sent after sign-in.
 */
import type { ServerResponse } from 'node:http';
import { approvalSignInCallbackUrl } from '../approvals/page-url.js';
import type { WardenConfig } from '../config/schema.js';
import type { Logger } from '../telemetry/log.js';
import { OidcSignIn, type SignInSession } from '../web/oidc-signin.js';
import { messagePage, sendPage } from './approval-html.js';

export type ApprovalPageConfig = NonNullable<WardenConfig['approvals']['page']>;
export type ApproverSession = SignInSession;

/** The signed-in approver's cookie, and the cookie of a sign-in in progress. */
export const SESSION_COOKIE = 'warden_approver';
export const LOGIN_COOKIE = 'warden_signin';

/** `/approvals/<uuid>`: the only paths an approver is sent to after sign-in, and the page's own routes. */
export const APPROVAL_PATH = /^\/approvals\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The Connections page and its connect links (src/ingress/connections-page.ts): the other places sign-in returns to. */
export const CONNECTIONS_NEXT = /^\/approvals\/connections(?:\/[A-Za-z0-9_-]{1,64}\/connect)?$/;

/** `next` if it is a relative path to one request's page or to the Connections page, else undefined. */
export function safeNext(next: unknown): string | undefined {
  return typeof next === 'string' && (APPROVAL_PATH.test(next) || CONNECTIONS_NEXT.test(next)) ? next : undefined;
}

export interface ApproverSignInOptions {
  signIn: ApprovalPageConfig['signIn'];
  clientSecret?: string;
  secret: string;
  sessionMinutes: number;
  publicUrl: () => string;
  log: Logger;
  now?: () => number;
}

export class ApproverSignIn extends OidcSignIn {
  constructor(opts: ApproverSignInOptions) {
    super({
      ...opts,
      site: {
        label: 'approval page',
        who: 'approver',
        cookiePath: '/approvals',
        sessionCookie: SESSION_COOKIE,
        loginCookie: LOGIN_COOKIE,
        sessionKey: 'session',
        loginKey: 'login',
        callbackUrl: approvalSignInCallbackUrl,
        safeNext,
        retry: 'Open the approval link to try again.',
        render: (res: ServerResponse, status, title, message, headers) => sendPage(res, status, messagePage(title, message), headers),
      },
    });
  }
}
