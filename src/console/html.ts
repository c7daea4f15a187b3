/**
 * The console's HTML: server-rendered pages with a stylesheet and one small script served from the console
 * itself (no inline script or style, no external asset), so the content security policy allows nothing
 * else. Every value that comes from outside (agent and tool names, arguments, claims, reasons) goes through
 * `text()`: HTML-escaped, with invisible and bidi characters shown as escapes. The markup around it is constant.
 */
import type { ServerResponse } from 'node:http';
import { printable } from '../approvals/index.js';
import type { Role } from './roles.js';

/**
 * Nothing loads but the console's own stylesheet and script, nothing frames it (clickjacking), forms post
 * only to it, nothing is cached. `same-origin` referrers: under `no-referrer` a browser sends `Origin: null`
 * with the console's own form POSTs, which the Origin check would refuse.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A value from outside, as text: escaped, with characters that would not show as themselves made visible. */
export function text(value: unknown): string {
  if (value === null || value === undefined || value === '') return '<span class="none">none</span>';
  return escapeHtml(printable(String(value)));
}

/** Raw HTML built by this module's helpers (never from outside values without `text`). */
export interface Html {
  readonly html: string;
}
export const raw = (html: string): Html => ({ html });

/** A link within the console: `path` is ours; query values are encoded. */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return escapeHtml(s === '' ? path : `${path}?${s}`);
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[], caption: string, empty = 'Nothing to show.'): string {
  if (rows.length === 0) return `<p class="empty">${escapeHtml(empty)}</p>`;
  return `<table><caption>${escapeHtml(caption)}</caption><thead><tr>${headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`;
}

/** A POST form with the CSRF token; `fields` and `buttons` are markup built here. */
export function form(action: string, csrf: string, body: string, label: string): string {
  return `<form method="post" action="${escapeHtml(action)}" aria-label="${escapeHtml(label)}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">${body}</form>`;
}

const NAV: ReadonlyArray<[string, string]> = [
  ['/console', 'Overview'],
  ['/console/approvals', 'Approvals'],
  ['/console/audit', 'Audit'],
  ['/console/agents', 'Agents'],
  ['/console/tasks', 'Tasks'],
  ['/console/policies', 'Policies'],
  ['/console/upstreams', 'Upstreams'],
  ['/console/secrets', 'Secrets'],
  ['/console/posture', 'Posture'],
];

export interface Chrome {
  name: string;
  role: Role;
  csrf: string;
  current: string;
}

/** A whole page: skip link, navigation, who is signed in (and sign-out), the content. */
export function layout(title: string, body: string, c?: Chrome): string {
  const nav = c
    ? `<nav aria-label="Console"><ul>${NAV.map(([p, l]) => `<li><a href="${p}"${p === c.current ? ' aria-current="page"' : ''}>${l}</a></li>`).join('')}</ul></nav>
<div class="who">Signed in as <strong>${text(c.name)}</strong> (${c.role}) ${form('/console/signout', c.csrf, '<button type="submit">Sign out</button>', 'Sign out')}</div>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} - warden console</title><link rel="stylesheet" href="/console/static/console.css"></head>
<body><a class="skip" href="#main">Skip to content</a><header><span class="brand">warden console</span>${nav}</header>
<main id="main"><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>
`;
}

export function send(res: ServerResponse, status: number, html: string, extra: Record<string, string | string[]> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { ...CONSOLE_HEADERS, 'content-length': Buffer.byteLength(html), ...extra });
  res.end(html);
}

export function messagePage(title: string, message: string, back?: string): string {
  return layout(title, `<p>${escapeHtml(message)}</p>${back ? `<p><a href="${escapeHtml(back)}">Back</a></p>` : ''}`);
}

/** ISO time shortened for tables (seconds precision, UTC). */
export const when = (iso: string | null | undefined): string => (iso ? escapeHtml(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')) : '<span class="none">never</span>');
