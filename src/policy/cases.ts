/**
 * Policy test cases (`warden policy test`): each case is a request the gateway could make and the decision
 * it must get. A case is decided by the gateway's own path (`readArguments`, then `GatewayPolicy.decide` on
 * the request `decisionRequest` builds), so a passing case says what the gateway will do.
 *
 * Case file (YAML or JSON):
 * ```yaml
 * policies: [starter.cedar]      # optional: policy files or directories, relative to this file; else the
 *                                # caller's (the config's `policy` block)
 * arguments: { path: String }    # optional, with `policies:` only: declared arguments (default: the gateway's)
 * pathArguments: [path]          # optional, with `policies:` only: arguments normalised as paths
 * cases:
 *   - name: reads in own tenant are allowed
 *     principal: { agent: agent-a, tenant: acme }   # agent (required), user, tenant, chain (nearest first),
 *                                                   # owner, groups, userGroups, authMethod (oauth-jwt), issuer, scopes
 *     action: call_tool                             # list, call_tool, read_resource, get_prompt, complete, start_task
 *     resource:                                     # at most one of tool / prompt / uri; none: the server itself
 *       tool: files__read_file                      # exposed name; upstreamName defaults to the part after the first "__"
 *       server: { name: files, environment: prod, tenant: acme, trustAnnotations: false, dataClasses: [] }
 *       access: read                                # tools: access, destructive, openWorld, risk, dataClasses;
 *                                                   # unset: write, true, true, high, [] (an unvouched tool)
 *     context:                                      # all optional
 *       arguments: { path: /data/x }                # normalised and projected as the gateway does
 *       task: { id: t1, purpose: p, tools: [files__write_file], servers: [files] }
 *       approval: none                              # none | pending | approved
 *       now: 2026-01-01T00:00:00Z                   # the default: a fixed time, so cases do not drift
 *       callsPerMinute: 0                           # the gateway counts the call it decides: a call sees at least 1
 *       listing: false                              # true: decided as the list filter does (no arguments)
 *       client: { transport: http, name: warden-policy-test, protocolVersion: 2025-06-18 }
 *     expect: allow                                 # allow | deny | needs-approval
 *     policies: [read-tools-own-tenant]             # optional: the determining policy ids, as a set
 * ```
 * A listing case decides with the arguments absent, as the gateway's list filter does; the item is listed
 * when the effect is allow or needs-approval, and the case also checks that `GatewayPolicy.visible` agrees.
 * With a task, a tool, prompt or resource outside the task's grant (its servers, or the tool by name) is
 * denied before any policy is asked, as the gateway does (see EvaluateOptions).
 * `delegate` (whose resource is an agent) cannot be written as a case yet.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { checkRequest, requestFields, RequestSchema, toPolicyRequest, type PolicyRequest } from './case-request.js';
import type { DecisionRequest } from './engine.js';
import { PolicyInputError } from './errors.js';
import type { Effect, GatewayDecision, GatewayPolicy } from './gateway-policy.js';
import { loadPolicyFiles } from './live.js';
import { decisionRequest, type CallContext, type TaskFacts } from './request.js';

export type { PolicyRequest } from './case-request.js';

const EFFECTS = ['allow', 'deny', 'needs-approval'] as const;
const Names = z.array(z.string().min(1));

const CaseSchema = z
  .strictObject({ name: z.string().min(1), ...requestFields, expect: z.enum(EFFECTS), policies: Names.optional() })
  .superRefine(checkRequest);

const CaseFileSchema = z
  .strictObject({
    policies: Names.min(1).optional(),
    arguments: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an argument name Cedar can address'), z.string().min(1)).optional(),
    pathArguments: Names.optional(),
    cases: z.array(CaseSchema).min(1),
  })
  .superRefine((f, ctx) => {
    for (const key of ['arguments', 'pathArguments'] as const) {
      if (f[key] !== undefined && f.policies === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'applies with `policies:` only (else the config says it)' });
    }
  });

export interface PolicyCase extends PolicyRequest {
  name: string;
  expect: Effect;
  /** The determining policy ids the case requires, when it names them. */
  policies: readonly string[] | undefined;
}

export interface CaseFile {
  file: string;
  /** Policy files named by the case file, relative to `baseDir`; undefined: the caller supplies the policy. */
  policies: readonly string[] | undefined;
  arguments: Readonly<Record<string, string>> | undefined;
  pathArguments: readonly string[] | undefined;
  baseDir: string;
  cases: PolicyCase[];
}

/** A case file or request that does not parse or fit the format; every problem is `file:line:col: message`. */
export class CaseFileError extends Error {
  override readonly name = 'CaseFileError';
  readonly code = 'policy_cases';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

const valueAt = (v: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<PropertyKey, unknown>)[k] : undefined), v);

const pos = (p: { line: number; col: number }): string => `${p.line}:${p.col}`;

/** Parses YAML (JSON is YAML) and validates it, naming each problem's line and column in `label`. */
function parseWith<S extends z.ZodType>(schema: S, text: string, label: string): z.infer<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new CaseFileError(doc.errors.map((e) => `${label}:${pos(lines.linePos(e.pos[0]))}: ${e.message.split('\n')[0]}`));
  }
  const value: unknown = doc.toJS();
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  /** The deepest node on `path` that exists; for an unknown key, the key itself. */
  const at = (path: readonly PropertyKey[], key?: string): string => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
      const pair = key !== undefined && n === path.length && isMap(node) ? node.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
      const range = isScalar(pair?.key) ? pair.key.range : isNode(node) ? node.range : undefined;
      if (range) return pos(lines.linePos(range[0]));
    }
    return '1:1';
  };
  throw new CaseFileError(
    result.error.issues.map((issue) => {
      const path = issue.path;
      let where = '';
      let rest = path;
      if (path[0] === 'cases' && typeof path[1] === 'number') {
        const name: unknown = (value as { cases: Array<{ name?: unknown }> }).cases[path[1]]?.name;
        where = `cases[${path[1]}]${typeof name === 'string' ? ` "${name}"` : ''}: `;
        rest = path.slice(2);
      }
      const field = rest.length > 0 ? `${rest.map(String).join('.')}: ` : '';
      const missing = path.length > 0 && valueAt(value, path) === undefined;
      const message = missing ? 'required' : issue.message;
      return `${label}:${at(path, issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined)}: ${where}${field}${message}`;
    }),
  );
}

const readText = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CaseFileError([`${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
};

export function parseCaseFile(text: string, file: string): CaseFile {
  const f = parseWith(CaseFileSchema, text, file);
  const cases = f.cases.map((c) => ({ ...toPolicyRequest(c), name: c.name, expect: c.expect, policies: c.policies }));
  return { file, policies: f.policies, arguments: f.arguments, pathArguments: f.pathArguments, baseDir: dirname(file), cases };
}

export const loadCaseFile = (file: string): CaseFile => parseCaseFile(readText(file), file);

/** A single request (`warden policy explain`): a case without `expect`. */
export const parseRequest = (text: string, label: string): PolicyRequest => toPolicyRequest(parseWith(RequestSchema, text, label));

/** The policy a case file names, or undefined when the caller must supply one. Throws PolicyLoadError. */
export function caseFilePolicy(f: CaseFile): GatewayPolicy | undefined {
  if (f.policies === undefined) return undefined;
  return loadPolicyFiles({ files: f.policies, baseDir: f.baseDir, arguments: f.arguments, pathArguments: f.pathArguments });
}

export interface EvaluateOptions {
  /**
   * The gateway's task-grant check (the tasks module's `inGrant`), applied before the policy as the gateway
   * does: a use outside the task's grant is denied whatever the policies say. Passed in because the policy
   * module does not depend on tasks; `warden policy` passes it.
   */
  inGrant?: ((task: TaskFacts, server: string, tool?: string) => boolean) | undefined;
}

export interface Evaluation {
  decision: GatewayDecision;
  /** The Cedar request as built for the decision; undefined when the arguments were refused before it. */
  request: DecisionRequest | undefined;
  /** For a listing: what `GatewayPolicy.visible` says, which must match the decision. */
  visible: boolean | undefined;
}

/** Decides one request exactly as the gateway's decide step does (authorize.ts), keeping the Cedar request. */
export function evaluate(policy: GatewayPolicy, r: PolicyRequest, opts: EvaluateOptions = {}): Evaluation {
  const deny = (reason: string): Evaluation => ({ decision: { effect: 'deny', policyIds: [], reason, version: policy.version, errors: [] }, request: undefined, visible: r.listing ? false : undefined });
  const { task } = r.context;
  if (opts.inGrant && task !== undefined && r.target.kind !== 'server' && !opts.inGrant(task, r.target.server.name, r.target.kind === 'tool' ? r.target.id : undefined)) {
    return deny(`outside the grant of task ${task.id}`);
  }
  let context: CallContext;
  let read: ReturnType<GatewayPolicy['readArguments']> | undefined;
  try {
    read = r.listing ? undefined : policy.readArguments(r.arguments);
    context = { ...r.context, arguments: read?.decided };
  } catch (err) {
    if (!(err instanceof PolicyInputError)) throw err;
    return deny(err.message);
  }
  const decision = read === undefined ? policy.decide(r.action, r.subject, r.target, context) : policy.decideArguments(r.action, r.subject, r.target, context, read);
  const visible = r.listing ? policy.visible(r.action, r.subject, [r.target], context)[0] : undefined;
  return { decision, request: decisionRequest(r.action, r.subject, r.target, context), visible };
}

export interface CaseResult {
  name: string;
  expected: Effect;
  got: Effect;
  /** The determining policies, sorted. */
  policyIds: string[];
  /** The policy ids the case required, sorted; undefined when it named none. */
  expectedPolicies: string[] | undefined;
  reason: string;
  pass: boolean;
  /** Why a failing case failed, in words. */
  failure: string | undefined;
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

export function runCase(policy: GatewayPolicy, c: PolicyCase, opts: EvaluateOptions = {}): CaseResult {
  const { decision: d, visible } = evaluate(policy, c, opts);
  const policyIds = [...new Set(d.policyIds)].sort();
  const expectedPolicies = c.policies === undefined ? undefined : [...new Set(c.policies)].sort();
  let failure: string | undefined;
  if (d.effect !== c.expect) failure = `expected ${c.expect}, got ${d.effect}`;
  else if (expectedPolicies !== undefined && !sameSet(policyIds, expectedPolicies)) {
    failure = `expected policies [${expectedPolicies.join(', ')}], got [${policyIds.join(', ')}]`;
  } else if (visible !== undefined && visible !== (d.effect !== 'deny')) {
    failure = `the list filter ${visible ? 'shows' : 'hides'} it, but the decision is ${d.effect}`;
  }
  return { name: c.name, expected: c.expect, got: d.effect, policyIds, expectedPolicies, reason: d.reason, pass: failure === undefined, failure };
}

export const runCases = (policy: GatewayPolicy, cases: readonly PolicyCase[], opts: EvaluateOptions = {}): CaseResult[] => cases.map((c) => runCase(policy, c, opts));
