/**
 * Shared by the console tests: the console config (roles by name and by group, the test OpenID provider's
 * console client), a gateway over the `warden demo` folder's store with the console on, and signing in
 * with fetch (a cookie jar) or in Chromium (the provider's real login and consent pages).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Page } from 'playwright-core';
import { parse } from 'yaml';
import { startGateway, type RunningGateway } from '../../src/cli/start-gateway.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { CONSOLE_CLIENT, CookieJar, followLogin, type TestOidcProvider } from './oidc.js';

export const CONSOLE_SECRET_ENV = 'WARDEN_CONSOLE_SECRET';
export const CONSOLE_SECRET = 'console-secret-for-the-console-tests-0123456789';

/** carol and the `security` group are admins, bob approves, the `auditors` group views; anyone else has no role. */
export function consoleConfig(op: TestOidcProvider): Record<string, unknown> {
  return {
    enabled: true,
    signIn: { issuer: op.issuer, clientId: CONSOLE_CLIENT.id, scope: 'openid groups', groupsClaim: 'groups' },
    roles: { admin: ['carol', 'group:security'], approver: ['bob'], viewer: ['group:auditors'] },
  };
}

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Signs `user` in to the console with fetch; returns the jar holding the session cookie. */
export async function signInWithFetch(origin: string, user: string, jar = new CookieJar()): Promise<CookieJar> {
  const res = await fetch(`${origin}/console`, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.store(res);
  assert.equal(res.status, 302, 'an anonymous visit starts the sign-in');
  const back = await followLogin(res.headers.get('location')!, user, jar, (u) => u.pathname === '/console/callback');
  const done = await fetch(back.href, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.store(done);
  assert.equal(done.status, 302, `the callback signs in: ${done.status}`);
  return jar;
}

/** Opens `url` in the browser page, signing in as `user` at the provider when sent there. */
export async function openAs(page: Page, issuer: string, url: string, user: string): Promise<void> {
  await page.goto(url);
  if (new URL(page.url()).origin === issuer) {
    await page.fill('input[name="login"]', user);
    await page.fill('input[name="password"]', 'any');
    await Promise.all([page.waitForLoadState(), page.click('button[type="submit"]')]);
    if (new URL(page.url()).origin === issuer) await Promise.all([page.waitForURL((u) => u.origin !== issuer), page.click('button[type="submit"]')]);
  }
  assert.equal(new URL(page.url()).pathname, new URL(url).pathname, `back on the console after signing in as ${user}`);
}

/** The CSRF token of the page the jar's session sees (every console page carries it in the sign-out form). */
export async function csrfOf(origin: string, jar: CookieJar, path = '/console/approvals'): Promise<string> {
  const html = await (await fetch(`${origin}${path}`, { headers: { cookie: jar.header() } })).text();
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(token, `no CSRF token on ${path}: ${html.slice(0, 300)}`);
  return token;
}

/** A form POST to the console as a browser on the console's own page would send it. */
export function postForm(origin: string, path: string, jar: CookieJar, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${origin}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', origin, 'sec-fetch-site': 'same-origin', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

/**
 * A gateway over a finished `warden demo` folder (its store, policies and agents) with the console on.
 * The demo's HTTP upstreams are gone; nothing here calls them.
 */
export async function startDemoConsole(dir: string, op: TestOidcProvider): Promise<RunningGateway & { logs: () => string }> {
  const raw = parse(readFileSync(join(dir, 'warden.yaml'), 'utf8')) as Record<string, unknown>;
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const config = validateConfig({ ...raw, listen: '127.0.0.1:0', console: consoleConfig(op), log: { level: 'warn' } }, join(dir, 'warden.yaml'));
  const gw = await startGateway(config, dir, createLogger('warn', sink), join(dir, 'warden.yaml'));
  return Object.assign(gw, { logs: () => lines.join('') });
}
