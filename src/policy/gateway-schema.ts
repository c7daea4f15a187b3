/**
 * The Cedar schema of the gateway's model. Principals are Agents (workloads) and Users (humans); resources
 * are upstream Servers and what they serve. Every action takes the same context. `Arguments` is the one
 * part operators shape: Cedar validates policies strictly, so an argument a policy reads must be declared
 * (config `policy.arguments`); undeclared arguments are left out of the decision.
 */

/**
 * Tool and Prompt: `name` is the name clients see (`files__write_file`, also the entity id), `upstreamName`
 * the server's own (`write_file`).
 */

/** Declared by default: the arguments file-system, fetch and database tools commonly take. */
export const DEFAULT_ARGUMENTS: Readonly<Record<string, string>> = {
  path: 'String',
  paths: 'Set<String>',
  source: 'String',
  destination: 'String',
  uri: 'String',
  url: 'String',
  command: 'String',
  query: 'String',
  sql: 'String',
};

/** Arguments holding file paths: normalised (`/a/./b/../c` -> `/a/c`) before the decision and when forwarded. */
export const DEFAULT_PATH_ARGUMENTS: readonly string[] = ['path', 'paths', 'source', 'destination'];

export const ACTIONS = ['list', 'call_tool', 'read_resource', 'get_prompt', 'complete', 'start_task', 'delegate', 'use_root'] as const;
export type ActionName = (typeof ACTIONS)[number];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The schema text with `Arguments` built from `{name: CedarType}` (every argument optional). */
export function gatewaySchemaText(args: Readonly<Record<string, string>> = DEFAULT_ARGUMENTS): string {
  const fields = Object.entries(args).map(([k, t]) => `${NAME.test(k) ? k : JSON.stringify(k)}?: ${t}`);
  return `// mcp-warden's policy model (generated; see docs/policy.md).
type Arguments = { ${fields.join(', ')} };
type Context = {
  arguments: Arguments,
  listing: Bool,
  task?: { id: String, purpose: String, tools: Set<String>, servers: Set<String> },
  user?: User,
  delegation: { depth: Long, chain: Set<String> },
  approval: { state: String },
  time: { now: datetime, hour: Long, weekday: Long },
  client: { transport: String, name: String, protocolVersion: String },
  risk: { callsPerMinute: Long },
  taint: { untrusted: Bool, findings: Set<String>, sources: Set<String> },
};
type Integrity = { findings: Set<String>, severity: String, severityRank: Long, shadows: Set<String> };
entity Group;
entity User in [Group] { tenant?: String, groups: Set<String> };
entity Agent in [Group] { tenant?: String, owner?: String, groups: Set<String>, authMethod: String, issuer?: String, scopes: Set<String> };
entity Server { name: String, environment: String, tenant?: String, trustAnnotations: Bool, dataClasses: Set<String> };
entity Tool in [Server] {
  name: String, upstreamName: String, server: String, access: String, destructive: Bool, openWorld: Bool, risk: String,
  dataClasses: Set<String>, environment: String, tenant?: String, integrity: Integrity,
};
entity Resource in [Server] { uri: String, server: String, dataClasses: Set<String>, environment: String, tenant?: String };
entity Prompt in [Server] { name: String, upstreamName: String, server: String, dataClasses: Set<String>, environment: String, tenant?: String, integrity: Integrity };
action list appliesTo { principal: [Agent, User], resource: [Server], context: Context };
action call_tool appliesTo { principal: [Agent, User], resource: [Tool], context: Context };
action read_resource appliesTo { principal: [Agent, User], resource: [Resource], context: Context };
action get_prompt appliesTo { principal: [Agent, User], resource: [Prompt], context: Context };
action complete appliesTo { principal: [Agent, User], resource: [Prompt, Resource], context: Context };
action start_task appliesTo { principal: [Agent, User], resource: [Server], context: Context };
action delegate appliesTo { principal: [Agent, User], resource: [Agent], context: Context };
action use_root appliesTo { principal: [Agent, User], resource: [Resource], context: Context };
`;
}
