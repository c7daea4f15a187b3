/**
 * A survey of the tools behind the gateway: each upstream started and listed once (by a session of
 * nobody, closed afterwards), and what each given principal may see of them under the policy in force,
 * with the first reason something is hidden. `warden serve` logs it at start; `warden doctor` prints it.
 */
import type { Principal } from '../identity/index.js';
import type { Authorizer } from './authorize.js';
import type { RequestOutbound } from './channel.js';
import { loadEveryUpstream, type RouteContext } from './router.js';
import type { GatewaySession } from './session.js';
import type { HiddenItem } from './visibility.js';

export interface UpstreamSurvey {
  name: string;
  ok: boolean;
  /** The tool names as clients see them. */
  tools: string[];
  /** Why it could not be listed. */
  reason?: string;
  /** Its last stderr lines (a stdio server that would not start). */
  stderr?: string[];
  /** It uses a lease, so it connects only within a task: not started by the survey. */
  withinTask?: true;
}

export interface PrincipalView {
  principal: Principal;
  /** The tools it may see. */
  shown: string[];
  /** Of how many listed. */
  total: number;
  /** The first it may not see, and why. */
  hidden?: HiddenItem;
}

export interface Survey {
  upstreams: UpstreamSurvey[];
  views: PrincipalView[];
}

const NO_STREAM: RequestOutbound = { send: () => false, signal: new AbortController().signal };
const CLIENT = { transport: 'survey', name: 'mcp-warden', protocolVersion: '' };

export async function surveyTools(
  session: GatewaySession,
  authorizer: Authorizer,
  principals: readonly Principal[],
  timeoutMs: (upstream: string) => number,
  withinTask: readonly string[] = [],
): Promise<Survey> {
  const audit = { upstream: null, target: null, argsDigest: null, arguments: null, upstreamStatus: null, decision: null };
  const ctx: RouteContext = { argumentsMode: 'none', session, out: NO_STREAM, timeoutMs, authz: authorizer.forRequest(null, CLIENT), audit };
  await loadEveryUpstream(ctx, 'tools');
  const entries = session.catalog.entries('tools', session.order);
  const upstreams = session.order.map((name): UpstreamSurvey => {
    if (session.catalog.has(name, 'tools')) return { name, ok: true, tools: entries.filter((e) => e.upstream === name).map((e) => String(e.item.name)) };
    const failure = session.upstream(name).lastFailure;
    return { name, ok: false, tools: [], reason: failure?.reason ?? 'it did not answer tools/list', ...(failure?.stderr.length ? { stderr: failure.stderr } : {}) };
  });
  const views = principals.map((principal): PrincipalView => {
    const authz = authorizer.forRequest(principal, CLIENT);
    const shown = authz.filter('tools', entries).map((e) => String(e.item.name));
    const hidden = shown.length < entries.length ? authz.firstHidden('tools', entries.filter((e) => !shown.includes(String(e.item.name)))) : undefined;
    return { principal, shown, total: entries.length, ...(hidden ? { hidden } : {}) };
  });
  return { upstreams: [...upstreams, ...withinTask.map((name): UpstreamSurvey => ({ name, ok: true, tools: [], withinTask: true }))], views };
}
