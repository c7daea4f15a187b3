/**
 * Building a Cedar request from what the gateway knows: who asks (Subject), what about (Target), and the
 * circumstances (CallContext). The same builder serves the gateway, `warden policy test` and `explain`, so
 * a policy test exercises exactly the entities and context the gateway would send.
 */
import type { EntityJson, EntityUidJson } from './input.js';
import type { ActionName } from './gateway-schema.js';
import type { DecisionRequest } from './engine.js';

export interface Subject {
  /** The agent acting (OAuth client id or SPIFFE ID). */
  agent: string;
  /** The human the agent acts for, if any. */
  user: string | null;
  tenant: string | null;
  /** Agents that delegated to `agent`, nearest first. */
  chain: readonly string[];
  /** The human responsible for the agent (config `agents.<id>.owner`). */
  owner?: string | undefined;
  groups: readonly string[];
  userGroups?: readonly string[];
  authMethod: string;
  /** The issuer that vouched for the agent (a token's `iss`, spiffe://<trustDomain>); null in development mode. */
  issuer?: string | null | undefined;
  scopes: readonly string[];
}

export type Environment = 'prod' | 'staging' | 'dev' | 'sandbox';
export type Access = 'read' | 'write' | 'execute';
export type Risk = 'low' | 'medium' | 'high' | 'critical';

export interface ServerFacts {
  name: string;
  environment: Environment;
  tenant?: string | undefined;
  trustAnnotations: boolean;
  dataClasses: readonly string[];
}

export interface ToolClass {
  access: Access;
  destructive: boolean;
  openWorld: boolean;
  risk: Risk;
  dataClasses: readonly string[];
}

/** What the tool integrity checks found in a definition (`resource.integrity`, see docs/integrity.md). */
export interface IntegrityFacts {
  findings: readonly string[];
  /** The highest finding's severity: none, low, medium, high or critical; `severityRank` 0 to 4. */
  severity: string;
  severityRank: number;
  /** Other servers the definition shadows. */
  shadows: readonly string[];
}

/** What the task (or session) read before this call (`context.taint`): findings in earlier tool results. */
export interface TaintFacts {
  untrusted: boolean;
  findings: readonly string[];
  sources: readonly string[];
}

export type Target =
  | { kind: 'server'; server: ServerFacts }
  /** `id` is the exposed name (`files__write_file`), `name` the upstream's own. */
  | { kind: 'tool'; server: ServerFacts; id: string; name: string; class: ToolClass; integrity?: IntegrityFacts | undefined }
  | { kind: 'prompt'; server: ServerFacts; id: string; name: string; integrity?: IntegrityFacts | undefined }
  | { kind: 'resource'; server: ServerFacts; uri: string };

export interface TaskFacts {
  id: string;
  purpose: string;
  tools: readonly string[];
  servers: readonly string[];
}

export type ApprovalState = 'none' | 'pending' | 'approved';

export interface CallContext {
  /** The call's arguments, already projected and normalised; absent when deciding what a list shows (`context.listing`). */
  arguments?: Record<string, unknown> | undefined;
  task?: TaskFacts | undefined;
  approval: ApprovalState;
  now: Date;
  client: { transport: string; name: string; protocolVersion: string };
  callsPerMinute: number;
  /** Findings in the results the task read before; absent: none. */
  taint?: TaintFacts | undefined;
}

const uid = (type: string, id: string): EntityUidJson => ({ type, id });
const groupsOf = (g: readonly string[]) => g.map((id) => uid('Group', id));

/** The principal's uid and the entities describing it (the agent, and the user it acts for). */
export function subjectEntities(s: Subject): { principal: EntityUidJson; entities: EntityJson[] } {
  const principal = uid('Agent', s.agent);
  const attrs: Record<string, unknown> = { groups: [...s.groups], authMethod: s.authMethod, scopes: [...s.scopes] };
  if (s.tenant !== null) attrs.tenant = s.tenant;
  if (s.owner !== undefined) attrs.owner = s.owner;
  if (s.issuer !== undefined && s.issuer !== null) attrs.issuer = s.issuer;
  const entities: EntityJson[] = [{ uid: principal, attrs, parents: groupsOf(s.groups) }];
  if (s.user !== null) {
    const groups = s.userGroups ?? [];
    entities.push({ uid: uid('User', s.user), attrs: { groups: [...groups], ...(s.tenant === null ? {} : { tenant: s.tenant }) }, parents: groupsOf(groups) });
  }
  return { principal, entities };
}

const NO_INTEGRITY: IntegrityFacts = { findings: [], severity: 'none', severityRank: 0, shadows: [] };

function integrityAttrs(f: IntegrityFacts | undefined): Record<string, unknown> {
  const i = f ?? NO_INTEGRITY;
  return { findings: [...i.findings], severity: i.severity, severityRank: i.severityRank, shadows: [...i.shadows] };
}

function serverAttrs(s: ServerFacts): Record<string, unknown> {
  return { environment: s.environment, dataClasses: [...s.dataClasses], ...(s.tenant === undefined ? {} : { tenant: s.tenant }) };
}

/** The resource's uid and its entities (the item and the server it belongs to). */
export function targetEntities(t: Target): { resource: EntityUidJson; entities: EntityJson[] } {
  const server = uid('Server', t.server.name);
  const serverEntity: EntityJson = { uid: server, attrs: { name: t.server.name, trustAnnotations: t.server.trustAnnotations, ...serverAttrs(t.server) }, parents: [] };
  if (t.kind === 'server') return { resource: server, entities: [serverEntity] };
  const inherited = { server: t.server.name, ...serverAttrs(t.server) };
  let item: EntityJson;
  if (t.kind === 'tool') {
    const c = t.class;
    const attrs = { ...inherited, name: t.id, upstreamName: t.name, access: c.access, destructive: c.destructive, openWorld: c.openWorld, risk: c.risk, dataClasses: [...new Set([...t.server.dataClasses, ...c.dataClasses])], integrity: integrityAttrs(t.integrity) };
    item = { uid: uid('Tool', t.id), attrs, parents: [server] };
  } else if (t.kind === 'prompt') {
    item = { uid: uid('Prompt', t.id), attrs: { ...inherited, name: t.id, upstreamName: t.name, integrity: integrityAttrs(t.integrity) }, parents: [server] };
  } else {
    item = { uid: uid('Resource', t.uri), attrs: { ...inherited, uri: t.uri }, parents: [server] };
  }
  return { resource: item.uid, entities: [item, serverEntity] };
}

let lastSecond = NaN;
let lastText = '';
/** Cedar's datetime literal: RFC 3339 in UTC, whole seconds (the text is the same for a whole second: reused). */
function cedarDatetime(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastText = new Date(second * 1000).toISOString().replace(/\.000Z$/, 'Z');
  }
  return lastText;
}

export function contextRecord(s: Subject, c: CallContext): Record<string, unknown> {
  const ctx: Record<string, unknown> = {
    delegation: { depth: s.chain.length, chain: [...s.chain] },
    approval: { state: c.approval },
    time: { now: { __extn: { fn: 'datetime', arg: cedarDatetime(c.now) } }, hour: c.now.getUTCHours(), weekday: c.now.getUTCDay() },
    client: c.client,
    risk: { callsPerMinute: Math.floor(c.callsPerMinute) },
    arguments: c.arguments ?? {},
    listing: c.arguments === undefined,
    taint: { untrusted: c.taint?.untrusted ?? false, findings: [...(c.taint?.findings ?? [])], sources: [...(c.taint?.sources ?? [])] },
  };
  if (c.task !== undefined) ctx.task = { id: c.task.id, purpose: c.task.purpose, tools: [...c.task.tools], servers: [...c.task.servers] };
  if (s.user !== null) ctx.user = { __entity: uid('User', s.user) };
  return ctx;
}

export function actionUid(action: ActionName): EntityUidJson {
  return uid('Action', action);
}

/** The whole Cedar request for one decision. */
export function decisionRequest(action: ActionName, s: Subject, t: Target, c: CallContext): DecisionRequest {
  const { principal, entities: who } = subjectEntities(s);
  const { resource, entities: what } = targetEntities(t);
  return { principal, action: actionUid(action), resource, context: contextRecord(s, c), entities: [...who, ...what] };
}
