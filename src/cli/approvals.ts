/**
 * `warden approvals list|show|approve|deny`: the approver's side. Approving needs `--as NAME`, a name in
 * config `approvals.approvers`; an agent never approves its own request. Each decision is an audit event.
 */
import type { AuditDecision } from '../audit/event.js';
import { AuditRecorder } from '../audit/index.js';
import type { ApprovalRecord, ApprovalState } from '../store/types.js';
import { createLogger } from '../telemetry/log.js';
import { withConfiguredStore } from './configured-store.js';
import { approvalServiceFor } from './services.js';


function describe(r: ApprovalRecord): string {
  const who = `${r.agent}${r.user ? ` for ${r.user}` : ''}${r.chain.length ? ` via ${r.chain.join(' <- ')}` : ''}${r.tenant ? ` (tenant ${r.tenant})` : ''}`;
  const decided = r.decidedBy ? `\n  decided: ${r.state} by ${r.decidedBy} at ${r.decidedAt}${r.decisionReason ? ` (${r.decisionReason})` : ''}` : '';
  return `${r.id}  ${r.state.padEnd(8)}  ${r.upstream}/${r.tool}  ${who}  expires ${r.expiresAt}${r.task ? `\n  task:    ${r.task}` : ''}\n  reason:  ${r.reason}\n  args:    ${r.arguments ?? '(not kept)'}${decided}`;
}

export function approvalsList(opts: { config: string; state?: string; json?: boolean; limit: string }): Promise<void> {
  const state = opts.state ?? 'pending';
  if (!['pending', 'approved', 'denied', 'consumed', 'all'].includes(state)) throw new Error('--state must be pending, approved, denied, consumed or all');
  return withConfiguredStore(opts.config, async (store) => {
    const list = await store.approvals.list({ ...(state === 'all' ? {} : { state: state as ApprovalState }), limit: Number(opts.limit) || 100 });
    for (const r of list) process.stdout.write((opts.json ? JSON.stringify(r) : describe(r)) + '\n');
    if (!opts.json && list.length === 0) process.stdout.write(`no ${state === 'all' ? '' : `${state} `}approval requests\n`);
  });
}

export function approvalsShow(id: string, opts: { config: string; json?: boolean }): Promise<void> {
  return withConfiguredStore(opts.config, async (store) => {
    const r = await store.approvals.get(id);
    if (r === undefined) throw new Error(`no approval request ${id}`);
    process.stdout.write((opts.json ? JSON.stringify(r) : describe(r)) + '\n');
  });
}

export function approvalsDecide(state: 'approved' | 'denied', id: string, opts: { config: string; as: string; reason?: string }): Promise<void> {
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
    process.stdout.write(`${r.id} ${state} by ${opts.as}: ${r.upstream}/${r.tool} for ${r.agent}\n`);
  });
}
