/**
 * `warden approvals list|show|approve|deny`: the approver's side. Approving needs `--as NAME`, a name in
 * config `approvals.approvers`; an agent never approves its own request. Each decision is an audit event.
 */
import { printable, readShownCall, renderCall, type ShownCall } from '../approvals/index.js';
import type { AuditDecision } from '../audit/event.js';
import { AuditRecorder } from '../audit/index.js';
import type { ApprovalRecord, ApprovalState } from '../store/types.js';
import { createLogger } from '../telemetry/log.js';
import { withConfiguredStore } from './configured-store.js';
import { approvalServiceFor, callSealerFor } from './services.js';

/**
 * One request in a few lines. Every field can come from a client or an upstream, so each is printed with
 * control characters (terminal escapes, line breaks, bidirectional overrides) as visible escapes.
 */
function describe(r: ApprovalRecord): string {
  const p = (v: string) => printable(v);
  const who = `${p(r.agent)}${r.user ? ` for ${p(r.user)}` : ''}${r.chain.length ? ` via ${r.chain.map(p).join(' <- ')}` : ''}${r.tenant ? ` (tenant ${p(r.tenant)})` : ''}`;
  const decided = r.decidedBy ? `\n  decided: ${r.state} by ${p(r.decidedBy)} at ${r.decidedAt}${r.decisionReason ? ` (${p(r.decisionReason)})` : ''}` : '';
  return `${r.id}  ${r.state.padEnd(8)}  ${p(r.upstream)}/${p(r.tool)}  ${who}  expires ${r.expiresAt}${r.task ? `\n  task:    ${p(r.task)}` : ''}\n  reason:  ${p(r.reason)}\n  args:    ${r.arguments === null ? '(not kept)' : `${p(r.arguments)} (a redacted summary)`}${decided}`;
}

/** The complete call as an approver reads it (see src/approvals/call-view.ts), or why it cannot be shown. */
function describeCall(c: ShownCall): string {
  if (!c.shown) return `  call:    not shown: ${c.reason}`;
  const body = renderCall(c.params).split('\n').map((l) => `    ${l}`).join('\n');
  return `  call:    the params the upstream receives, complete (${c.bytes.toLocaleString('en-US')} bytes as JSON):\n${body}`;
}

export function approvalsList(opts: { config: string; state?: ApprovalState | 'all'; json?: boolean; limit: number }): Promise<void> {
  const state = opts.state ?? 'pending';
  return withConfiguredStore(opts.config, async (store, ctx) => {
    const list = await store.approvals.list({ ...(state === 'all' ? {} : { state }), limit: opts.limit });
    for (const r of list) process.stdout.write((opts.json ? JSON.stringify(r) : describe(r)) + '\n');
    if (!opts.json && list.length === 0) process.stderr.write(`no ${state === 'all' ? '' : `${state} `}approval requests in ${ctx.location}\n`);
  });
}

/** One request, with its complete call while it is pending (opened with the vault master key, when given). */
export function approvalsShow(id: string, opts: { config: string; json?: boolean }): Promise<void> {
  return withConfiguredStore(opts.config, async (store, { config, baseDir }) => {
    const r = await store.approvals.get(id);
    if (r === undefined) throw new Error(`no approval request ${id}`);
    const sealer = callSealerFor(config, baseDir, false);
    let call: ShownCall;
    try {
      call = await readShownCall(store.approvals, sealer, r, Date.now());
    } finally {
      sealer?.close();
    }
    process.stdout.write((opts.json ? JSON.stringify({ ...r, call }) : `${describe(r)}\n${describeCall(call)}`) + '\n');
  });
}

export function approvalsDecide(state: 'approved' | 'denied', id: string, opts: { config: string; as: string; reason?: string; json?: boolean }): Promise<void> {
  return withConfiguredStore(opts.config, async (store, { config }) => {
    const service = approvalServiceFor(config, store.approvals);
    if (service === undefined) throw new Error('no approvers are configured (approvals.approvers)');
    const r = await service.decide(id, opts.as, state, opts.reason ?? null);
    const decision: AuditDecision = { effect: state === 'approved' ? 'allow' : 'deny', policyIds: r.policyIds, reason: `${state} by ${opts.as}${opts.reason ? `: ${opts.reason}` : ''}` };
    await new AuditRecorder(store.audit, createLogger('error'), { instance: 'warden-cli' }).record({
      startedAt: Date.now(),
      agent: r.agent,
      user: r.user,
      tenant: r.tenant,
      chain: r.chain,
      authMethod: 'cli',
      task: r.task,
      sessionId: null,
      protocolVersion: null,
      method: state === 'approved' ? 'approval/approve' : 'approval/deny',
      upstream: r.upstream,
      target: r.tool,
      argsDigest: null,
      decision,
      approvalId: r.id,
      outcome: 'ok',
      errorCode: null,
    });
    if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
    else process.stdout.write(`${printable(`${r.id} ${state} by ${opts.as}: ${r.upstream}/${r.tool} for ${r.agent}`)}\n`);
  });
}
