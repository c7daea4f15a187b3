/**
 * The approval page's HTML: plain server-rendered pages with no JavaScript and no external assets, so the
 * content security policy can forbid everything but inline style. Every value that comes from a request
 * (tool, arguments, names, reasons, the provider's error) is HTML-escaped where it is interpolated, with
 * characters that would not show as themselves (controls, bidi overrides, zero-width) as visible escapes;
 * the markup around it is constant.
 */
import type { ServerResponse } from 'node:http';
import { printable, renderCall, type ShownCall } from '../approvals/index.js';
import type { ApprovalRecord } from '../store/types.js';

/**
 * Headers on every page: nothing loads or runs, nothing frames it, nothing is cached, no Referer leaks the
 * id to another site. The referrer policy is `same-origin`, not `no-referrer`: under `no-referrer` a browser
 * sends `Origin: null` with the page's own form POST (Fetch, "append a request Origin header"), which the
 * host guard and the page's Origin check would refuse as cross-origin.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
pre{background:#f3f3f3;padding:.75rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
pre.call{max-height:40rem;tab-size:2}
.who{color:#555}.note{border-left:4px solid #b35c00;padding-left:.75rem}textarea{width:100%;min-height:4rem}
button{font-size:1rem;padding:.4rem 1.2rem;margin-right:.75rem}`;

export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>
`;
}

export function sendPage(res: ServerResponse, status: number, html: string, extra: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...PAGE_HEADERS, 'content-length': Buffer.byteLength(html), ...extra });
  res.end(html);
}

/** A short page with a message and, optionally, a link back to the request. */
export function messagePage(title: string, message: string, back?: string): string {
  return layout(title, `<p>${escapeHtml(message)}</p>${back ? `<p><a href="${escapeHtml(back)}">Back to the request</a></p>` : ''}`);
}

/** The redacted summary kept after a decision, pretty-printed when it is JSON. */
function summaryView(view: string | null): string {
  if (view === null) return '<p>(the arguments were not kept)</p>';
  let text = view;
  try {
    text = JSON.stringify(JSON.parse(view), null, 2);
  } catch {
    // Not JSON: shown as it is.
  }
  return `<pre>${escapeHtml(printable(text))}</pre>`;
}

/** The complete call while pending (every key and value, with sizes), else the redacted summary and why. */
function callView(r: ApprovalRecord, call: ShownCall | undefined): string {
  if (call?.shown) {
    return `<h2>The call</h2>
<p>The params ${escapeHtml(printable(r.upstream))} receives, complete: <strong>${call.bytes.toLocaleString('en-US')} bytes</strong> as JSON. Values from the vault show as their name.</p>
<pre class="call">${escapeHtml(renderCall(call.params))}</pre>`;
  }
  const why = call === undefined ? '' : `<p class="note">The complete call is not shown: ${escapeHtml(call.reason)}.</p>`;
  return `<h2>Arguments (redacted summary)</h2>
${why}
${summaryView(r.arguments)}`;
}

function details(r: ApprovalRecord, expired: boolean, call?: ShownCall): string {
  const row = (k: string, v: string | null) => `<dt>${k}</dt><dd>${v === null || v === '' ? '<em>none</em>' : escapeHtml(printable(v))}</dd>`;
  const state = r.state === 'pending' && expired ? 'expired' : r.state;
  const decided = r.decidedBy ? `${r.decidedBy}${r.decidedAt ? ` at ${r.decidedAt}` : ''}${r.decisionReason ? `: ${r.decisionReason}` : ''}` : null;
  return `<dl>
${row('Tool', r.tool)}
${row('Server', r.upstream)}
${row('Agent', r.agent)}
${row('On behalf of', r.user)}
${row('Delegated by', r.chain.join(' \u2190 '))}
${row('Task', r.task)}
${row('Why approval is needed', r.reason)}
${row('Policies', r.policyIds.join(', '))}
${row('Requested', r.createdAt)}
${row('Expires', r.expiresAt)}
${row('State', state)}
${decided ? row('Decided by', decided) : ''}
</dl>
${callView(r, call)}`;
}

export interface RequestView {
  record: ApprovalRecord;
  /** The signed-in approver. */
  name: string;
  expired: boolean;
  /** Why this approver may not decide, or null when they may (then `csrf` is set and the form is shown). */
  refusal: string | null;
  csrf: string;
  /** The complete call, or why it is not shown (then the form offers Deny only). */
  call: ShownCall;
}

/** The request, who is signed in, and the decision form when they may decide it. */
export function requestPage(v: RequestView): string {
  const r = v.record;
  const action = `/approvals/${encodeURIComponent(r.id)}`;
  const open = r.state === 'pending' && !v.expired;
  let tail: string;
  if (!open) tail = `<p class="note">This request can no longer be decided (${escapeHtml(r.state === 'pending' ? 'expired' : r.state)}).</p>`;
  else if (v.refusal !== null) tail = `<p class="note">You may not decide this request: ${escapeHtml(printable(v.refusal))}.</p>`;
  else
    // What cannot be shown cannot be approved here: only Deny is offered (and the POST refuses an approval).
    tail = `<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<p><label for="reason">Reason (recorded with your decision)</label><br>
<textarea id="reason" name="reason" maxlength="2000"></textarea></p>
<p>${v.call.shown ? '<button type="submit" name="decision" value="approve">Approve</button>\n' : ''}<button type="submit" name="decision" value="deny">Deny</button></p>
</form>`;
  return layout('Approval request', `<p class="who">Signed in as <strong>${escapeHtml(printable(v.name))}</strong></p>
${details(r, v.expired, v.call)}
${tail}`);
}

/** After a decision: what was decided, by whom. */
export function resultPage(r: ApprovalRecord): string {
  const verb = r.state === 'denied' ? 'Denied' : 'Approved';
  const body = `<p>${verb} by <strong>${escapeHtml(r.decidedBy ?? '')}</strong>. ${
    r.state === 'denied' ? 'The call will not run.' : 'The held call may now run once.'
  }</p>
${details(r, false)}`;
  return layout(`${verb}: ${printable(r.tool)}`, body);
}
