/**
 * Signed cookies for the gateway's web pages (the approval page, src/ingress/approval-page.ts, and the
 * console, src/console/): a value is `base64url(JSON).base64url(
 * HMAC-SHA256)`, readable by whoever holds it but not forgeable or alterable without the key. Nothing in
 * them is secret from the browser that holds them (an approver's name, a PKCE verifier for its own login).
 *
 * Every use gets its own key derived from the page secret with HKDF and a label, so a value made for one
 * purpose (a login in progress) is never accepted for another (a session, a CSRF token), and the same
 * secret can key other things (the `requestState` of in-protocol prompts) without one standing in for
 * the other.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The labels of the keys derived from the page secret; each is used for exactly one thing. */
export type KeyPurpose = 'session' | 'login' | 'csrf' | 'console-session' | 'console-login' | 'console-csrf';

export const MIN_PAGE_SECRET_BYTES = 32;

/** A 32-byte key for one purpose. The salt names the application, the info the purpose and a version. */
export function deriveKey(secret: string, purpose: KeyPurpose): Buffer {
  if (Buffer.byteLength(secret) < MIN_PAGE_SECRET_BYTES) throw new Error(`approval page: the secret must be at least ${MIN_PAGE_SECRET_BYTES} bytes`);
  return Buffer.from(hkdfSync('sha256', secret, 'mcp-warden approval page', `${purpose} v1`, 32));
}

export function mac(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('base64url');
}

/** Equal strings, in time that does not depend on where they differ. */
export function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function seal(key: Buffer, payload: Record<string, unknown>): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(key, body)}`;
}

/** The payload of a value sealed with this key, or undefined for anything else (altered, foreign, malformed). */
export function unseal(key: Buffer, value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined || value.length > 4096) return undefined;
  const dot = value.indexOf('.');
  if (dot <= 0) return undefined;
  const body = value.slice(0, dot);
  if (!sameString(value.slice(dot + 1), mac(key, body))) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** One cookie of the request, by name (the first one when repeated). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  secure: boolean;
  /** Only the routes under this path receive the cookie; default `/approvals` (the approval page). */
  path?: string;
}

/**
 * A Set-Cookie value. HttpOnly: no script reads it. Path (`/approvals`, `/console`): only the page's own
 * routes receive it. SameSite=Lax: sent on the top-level navigation back from the sign-in provider (a cross-site GET),
 * never on a cross-site POST.
 */
export function cookie(name: string, value: string, opts: CookieOptions): string {
  return `${name}=${value}; Path=${opts.path ?? '/approvals'}; Max-Age=${Math.max(0, Math.floor(opts.maxAge))}; HttpOnly; SameSite=Lax${opts.secure ? '; Secure' : ''}`;
}
