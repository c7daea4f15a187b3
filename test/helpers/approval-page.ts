/**
 * Shared by the approval page tests (test/ingress/approval-page*.test.ts): the page secret, the OpenID provider
 * an approver signs in at, and a browser-like client (fetch and one cookie jar, redirects followed by hand).
 */
import assert from 'node:assert/strict';
import { SESSION_COOKIE } from '../../src/ingress/approval-page.js';
import { deriveKey, mac } from '../../src/web/page-cookies.js';
import { setEnv } from './approvals.js';
import { CookieJar, followLogin, startOidcProvider, type TestOidcProvider } from './oidc.js';

export const ENV = 'WARDEN_APPROVAL_PAGE_SECRET';
export const SECRET = 'approval-page-secret-for-tests-0123456789abcdef';

export interface PageProvider {
  op: TestOidcProvider;
  /** Stops the provider and puts the environment back. */
  close(): Promise<void>;
}

/** The suite's provider, with SECRET in ENV meanwhile: a gateway configured with approvals.page reads it at start. */
export async function startPageProvider(): Promise<PageProvider> {
  const restoreEnv = setEnv(ENV, SECRET);
  try {
    const op = await startOidcProvider('https://unused.example/mcp');
    return {
      op,
      close: async () => {
        try {
          await op.close();
        } finally {
          restoreEnv();
        }
      },
    };
  } catch (err) {
    restoreEnv();
    throw err;
  }
}

export interface BrowserTarget {
  /** The page's origin, read per request (a suite's gateway is known only once it started). */
  origin: () => string;
  /** The provider's issuer a sign-in must be sent to. */
  issuer: () => string;
  /** Collects every authorization code and cookie value seen, to prove none of them reaches a log. */
  seen?: string[];
  /** Collects every page shown, to prove no secret or code is on one. */
  pages?: string[];
}

/** A browser: one cookie jar for the provider and the page, redirects followed by hand. */
export class PageBrowser {
  readonly jar = new CookieJar();
  /** The Set-Cookie lines of the last response. */
  setCookies: string[] = [];
  constructor(private readonly target: BrowserTarget) {}

  private get origin(): string {
    return this.target.origin();
  }

  async get(url: string): Promise<Response> {
    const res = await fetch(new URL(url, this.origin), { redirect: 'manual', headers: { cookie: this.jar.header() }, signal: AbortSignal.timeout(5000) });
    this.jar.store(res);
    this.setCookies = res.headers.getSetCookie();
    for (const c of this.setCookies) this.target.seen?.push(c.split(';')[0]!.split('=').slice(1).join('='));
    return res;
  }

  async page(id: string): Promise<{ status: number; html: string; res: Response }> {
    const res = await this.get(`/approvals/${id}`);
    const html = await res.text();
    this.target.pages?.push(html);
    return { status: res.status, html, res };
  }

  /** Opens the request, signs in at the provider, and comes back; returns the callback URL it used. */
  async signIn(user: string, id: string): Promise<URL> {
    const start = await this.get(`/approvals/${id}`);
    assert.equal(start.status, 302);
    const auth = new URL(start.headers.get('location')!);
    assert.equal(auth.origin, this.target.issuer());
    const back = await followLogin(auth.href, user, this.jar, (u) => u.pathname === '/approvals/callback');
    this.target.seen?.push(back.searchParams.get('code') ?? '');
    const done = await this.get(back.href);
    assert.equal(done.status, 302, await done.text());
    assert.equal(done.headers.get('location'), `/approvals/${id}`);
    return back;
  }

  csrfFrom(html: string): string {
    return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? assert.fail('no CSRF token on the page');
  }

  /** The token this browser's own session would carry for `id` (what a non-approver could compute, given the form). */
  ownCsrf(id: string): string {
    return mac(deriveKey(SECRET, 'csrf'), `${this.jar.get(SESSION_COOKIE)}\n${id}`);
  }

  async post(id: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; html: string }> {
    const res = await fetch(`${this.origin}/approvals/${id}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: this.jar.header(), 'content-type': 'application/x-www-form-urlencoded', origin: this.origin, ...headers },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(5000),
    });
    const html = await res.text();
    this.target.pages?.push(html);
    return { status: res.status, html };
  }
}
