/**
 * One policy request as a person writes it (a `warden policy test` case, a `warden policy explain` input),
 * validated strictly and turned into the Subject, Target and CallContext the gateway itself builds. The
 * defaults are the gateway's: an unclassified tool is write, destructive, open-world, high risk; an unset
 * environment is prod. The format is documented in cases.ts.
 */
import { z } from 'zod';
import { ACTIONS, type ActionName } from './gateway-schema.js';
import type { CallContext, ServerFacts, Subject, Target, ToolClass } from './request.js';

const Name = z.string().min(1);
const Names = z.array(Name);

const PrincipalSchema = z.strictObject({
  agent: Name,
  user: Name.nullable().default(null),
  tenant: Name.nullable().default(null),
  /** Agents that delegated, nearest first; its length is `context.delegation.depth`. */
  chain: Names.default([]),
  owner: Name.optional(),
  groups: Names.default([]),
  userGroups: Names.optional(),
  authMethod: z.enum(['none', 'oauth-jwt', 'spiffe-jwt', 'mtls', 'gateway-token']).default('oauth-jwt'),
  /** The issuer that vouched for the agent (`principal.issuer`); unset: none. */
  issuer: Name.optional(),
  scopes: Names.default([]),
});

const ServerSchema = z.strictObject({
  name: Name,
  environment: z.enum(['prod', 'staging', 'dev', 'sandbox']).default('prod'),
  tenant: Name.optional(),
  trustAnnotations: z.boolean().default(false),
  dataClasses: Names.default([]),
});

const ResourceSchema = z.strictObject({
  tool: Name.optional(),
  prompt: Name.optional(),
  uri: Name.optional(),
  /** The upstream's own name of a tool or prompt; defaults to the part after the first `__`. */
  upstreamName: Name.optional(),
  server: ServerSchema,
  access: z.enum(['read', 'write', 'execute']).optional(),
  destructive: z.boolean().optional(),
  openWorld: z.boolean().optional(),
  risk: z.enum(['low', 'medium', 'high', 'critical']).optional(),
  dataClasses: Names.optional(),
});

const ContextSchema = z.strictObject({
  arguments: z.record(z.string(), z.unknown()).optional(),
  task: z
    .strictObject({ id: Name.default('test-task'), purpose: z.string().default(''), tools: Names.default([]), servers: Names.default([]) })
    .optional(),
  approval: z.enum(['none', 'pending', 'approved']).default('none'),
  /** Fixed by default so a case decides the same way every day. */
  now: z.iso.datetime({ offset: true }).default('2026-01-01T00:00:00Z'),
  callsPerMinute: z.number().int().min(0).default(0),
  /** Decide as the list filter does: without arguments (`context.listing` true). */
  listing: z.boolean().default(false),
  client: z
    .strictObject({ transport: z.string().default('http'), name: z.string().default('warden-policy-test'), protocolVersion: z.string().default('2025-06-18') })
    .prefault({}),
});

/** The fields of a request; a case adds `name`, `expect` and `policies`. */
export const requestFields = {
  principal: PrincipalSchema,
  action: z.enum(ACTIONS),
  resource: ResourceSchema,
  context: ContextSchema.prefault({}),
};

type RequestInput = { action: ActionName; resource: z.infer<typeof ResourceSchema>; context: z.infer<typeof ContextSchema> };

/** What each action's resource is, as the gateway schema's `appliesTo` says. */
const KINDS: Record<ActionName, readonly string[]> = {
  list: ['server'],
  start_task: ['server'],
  call_tool: ['tool'],
  read_resource: ['resource'],
  get_prompt: ['prompt'],
  complete: ['prompt', 'resource'],
  delegate: [],
  use_root: ['resource'],
};
const KEY: Record<string, string> = { server: 'none of tool/prompt/uri (the server itself)', tool: 'resource.tool', prompt: 'resource.prompt', resource: 'resource.uri' };

const kindOf = (r: RequestInput['resource']): Target['kind'] => (r.tool !== undefined ? 'tool' : r.prompt !== undefined ? 'prompt' : r.uri !== undefined ? 'resource' : 'server');

/** Cross-field rules zod's shapes cannot say; added to a request or case schema with superRefine. */
export function checkRequest(r: RequestInput, ctx: z.RefinementCtx): void {
  const named = (['tool', 'prompt', 'uri'] as const).filter((k) => r.resource[k] !== undefined);
  if (named.length > 1) ctx.addIssue({ code: 'custom', path: ['resource'], message: `give at most one of tool, prompt, uri (got ${named.join(', ')})` });
  const kind = kindOf(r.resource);
  const allowed = KINDS[r.action];
  if (named.length <= 1 && !allowed.includes(kind)) {
    const want = allowed.length === 0 ? 'an agent, which a case cannot describe yet' : allowed.map((k) => KEY[k]).join(' or ');
    ctx.addIssue({ code: 'custom', path: ['resource'], message: `${r.action} takes ${want}` });
  }
  const classKeys = (['access', 'destructive', 'openWorld', 'risk', 'dataClasses'] as const).filter((k) => r.resource[k] !== undefined);
  if (kind !== 'tool' && classKeys.length > 0) ctx.addIssue({ code: 'custom', path: ['resource', classKeys[0]!], message: 'a classification applies to tools only' });
  if (kind !== 'tool' && kind !== 'prompt' && r.resource.upstreamName !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['resource', 'upstreamName'], message: 'upstreamName applies to tools and prompts only' });
  }
  if (r.context.listing && r.context.arguments !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['context', 'arguments'], message: 'a listing is decided without arguments' });
  }
}

/** A request ready to decide; `arguments` are raw (the caller runs them through `readArguments`). */
export interface PolicyRequest {
  action: ActionName;
  subject: Subject;
  target: Target;
  /** The context without arguments. */
  context: Omit<CallContext, 'arguments'>;
  arguments: Record<string, unknown> | undefined;
  listing: boolean;
}

/** The gateway's classification of a tool nobody vouched for (see gateway/classification.ts). */
const UNTRUSTED: ToolClass = { access: 'write', destructive: true, openWorld: true, risk: 'high', dataClasses: [] };

const upstreamOf = (exposed: string): string => {
  const at = exposed.indexOf('__');
  return at >= 0 ? exposed.slice(at + 2) : exposed;
};

export function toPolicyRequest(r: RequestInput & { principal: z.infer<typeof PrincipalSchema> }): PolicyRequest {
  const subject: Subject = { ...r.principal };
  const res = r.resource;
  const server: ServerFacts = { ...res.server };
  let target: Target;
  if (res.tool !== undefined) {
    const c: ToolClass = {
      access: res.access ?? UNTRUSTED.access,
      destructive: res.destructive ?? UNTRUSTED.destructive,
      openWorld: res.openWorld ?? UNTRUSTED.openWorld,
      risk: res.risk ?? UNTRUSTED.risk,
      dataClasses: res.dataClasses ?? UNTRUSTED.dataClasses,
    };
    target = { kind: 'tool', server, id: res.tool, name: res.upstreamName ?? upstreamOf(res.tool), class: c };
  } else if (res.prompt !== undefined) target = { kind: 'prompt', server, id: res.prompt, name: res.upstreamName ?? upstreamOf(res.prompt) };
  else if (res.uri !== undefined) target = { kind: 'resource', server, uri: res.uri };
  else target = { kind: 'server', server };
  const { arguments: args, listing, now, ...rest } = r.context;
  return { action: r.action, subject, target, context: { ...rest, now: new Date(now) }, arguments: args, listing };
}

/** A request on its own (`warden policy explain`): a case without `expect`; `name` is allowed and ignored. */
export const RequestSchema = z.strictObject({ name: Name.optional(), ...requestFields }).superRefine(checkRequest);
