/**
 * The readiness review's checks: what each one looks at, the fix, and the framework mapping. A check is
 * about the gateway as a whole, one agent, or one upstream.
 */
import type { FrameworkMapping, Severity } from './model.js';

export interface ReviewCheck {
  id: string;
  title: string;
  severity: Severity;
  fix: string;
  mapping: FrameworkMapping;
}

const checks = [
  {
    id: 'auth-none',
    title: 'Callers are not authenticated',
    severity: 'high',
    fix: 'Set `auth.mode: oauth` with your identity provider (`issuers`) or SPIFFE, and give every agent its own client.',
    mapping: { asi: ['ASI03'], nhi: ['NHI4'], mcp: ['MCP07'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'auth-missing',
    title: 'No authentication configured',
    severity: 'medium',
    fix: 'Configure `auth` (the gateway refuses to start without it).',
    mapping: { asi: ['ASI03'], nhi: ['NHI4'], mcp: ['MCP07'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'no-tls',
    title: 'Clients reach the gateway over plain HTTP',
    severity: 'high',
    fix: 'Serve TLS (`tls.certFile`, `tls.keyFile`) or put a TLS proxy in front and set `publicUrl` to its https:// URL.',
    mapping: { asi: ['ASI07'], nhi: ['NHI4'], mcp: ['MCP01'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'no-policy',
    title: 'No policy: every request is denied',
    severity: 'info',
    fix: 'Add policies (`warden init` writes a starter pack) and test them with `warden policy test`.',
    mapping: { asi: ['ASI02'], nhi: ['NHI5'], mcp: ['MCP02'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'permit-all',
    title: 'Policy is not deny-by-default',
    severity: 'critical',
    fix: 'Remove the unconditional permit; grant by agent, group or task, and let approvals cover destructive tools.',
    mapping: { asi: ['ASI02', 'ASI03'], nhi: ['NHI5'], mcp: ['MCP02'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'standing-privilege',
    title: 'Agent holds a broad standing grant',
    severity: 'high',
    fix: 'Grant tools through tasks (`warden task start --tool ...`) or name the tools in the policy, instead of a permit over any tool of the server.',
    mapping: { asi: ['ASI03'], nhi: ['NHI5'], mcp: ['MCP02'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'destructive-without-approval',
    title: 'Destructive tools in production run without a human approval',
    severity: 'high',
    fix: 'Add an `@approval` permit for destructive tools in prod (the starter pack has one) and configure `approvals.approvers`.',
    mapping: { asi: ['ASI09', 'ASI02'], nhi: ['NHI5'], mcp: ['MCP02'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'approvals-without-approvers',
    title: 'Policies ask for approvals nobody can give',
    severity: 'medium',
    fix: 'List who may approve in `approvals.approvers` (and a page or webhook to reach them); until then such calls are refused.',
    mapping: { asi: ['ASI09'], nhi: [], mcp: ['MCP02'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'annotations-trusted',
    title: 'Tool annotations from the server are trusted',
    severity: 'medium',
    fix: 'Set `trustAnnotations: false` (the default) and classify tools yourself under `tools:`; a server can call its destructive tools read-only.',
    mapping: { asi: ['ASI02'], nhi: [], mcp: ['MCP03'], maestro: 'L3', nist: 'MAP' },
  },
  {
    id: 'token-ttl',
    title: 'Gateway tokens live long',
    severity: 'medium',
    fix: 'Keep `tokenService.defaultTtlSeconds` at 900 or less and `maxTtlSeconds` at 3600 or less; tasks renew what they need.',
    mapping: { asi: ['ASI03'], nhi: ['NHI7'], mcp: ['MCP01'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'signing-keys-clear',
    title: 'Signing keys are stored unencrypted',
    severity: 'high',
    fix: 'Upgrade to a version that seals signing keys under the master key, and rotate the keys: anyone who read the store could mint tokens.',
    mapping: { asi: ['ASI03'], nhi: ['NHI2'], mcp: ['MCP01'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'signing-key-stale',
    title: 'Signing keys are not being rotated',
    severity: 'medium',
    fix: 'Keep a gateway running (it rotates keys every `tokenService.keyRotationHours`) and keep that period at 30 days or less.',
    mapping: { asi: ['ASI03'], nhi: ['NHI7'], mcp: ['MCP01'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'secret-not-rotated',
    title: 'Upstream secret older than the rotation period',
    severity: 'medium',
    fix: 'Rotate it at the provider and store the new value with `warden secret rotate NAME`; prefer per-task leases (`${lease:...}`).',
    mapping: { asi: ['ASI03'], nhi: ['NHI7'], mcp: ['MCP01'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'secret-missing',
    title: 'Upstream secret referenced but not in the vault',
    severity: 'high',
    fix: 'Store it with `warden secret set NAME --upstream SERVER --env ENV`; the gateway refuses to start without it.',
    mapping: { asi: ['ASI08'], nhi: ['NHI2'], mcp: ['MCP01'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'static-credential',
    title: 'Upstream uses a static shared credential',
    severity: 'low',
    fix: 'Where the upstream supports it, issue credentials per task (`leases`: token exchange or database roles) so ending a task revokes them.',
    mapping: { asi: ['ASI03'], nhi: ['NHI7', 'NHI9'], mcp: ['MCP01'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'audit-arguments-none',
    title: 'The audit keeps nothing of call arguments',
    severity: 'medium',
    fix: 'Set `audit.arguments: digest` (the default) or `redacted`, so a record shows which call was made.',
    mapping: { asi: ['ASI10'], nhi: [], mcp: ['MCP08'], maestro: 'L5', nist: 'MEASURE' },
  },
  {
    id: 'audit-not-exported',
    title: 'The audit log stays on the gateway host',
    severity: 'low',
    fix: 'Export it (`audit.sinks`: jsonl, webhook or OTLP) to a store the gateway host cannot rewrite.',
    mapping: { asi: ['ASI10'], nhi: [], mcp: ['MCP08'], maestro: 'L5', nist: 'MEASURE' },
  },
  {
    id: 'audit-chain-broken',
    title: 'The audit chain does not verify',
    severity: 'critical',
    fix: 'Investigate with `warden audit verify` (it names the first broken link): records were changed or removed.',
    mapping: { asi: ['ASI10'], nhi: [], mcp: ['MCP08'], maestro: 'L5', nist: 'MEASURE' },
  },
  {
    id: 'revocation-unavailable',
    title: 'The revocation path does not work',
    severity: 'critical',
    fix: 'Make the store reachable from every replica; a replica that cannot read revocations refuses requests (fail closed), so nothing works until it can.',
    mapping: { asi: ['ASI10'], nhi: ['NHI1'], mcp: ['MCP07'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'revocation-slow',
    title: 'Revocations take long to reach every replica',
    severity: 'medium',
    fix: 'Keep `revocation.maxStalenessSeconds` at 30 or less (replicas refuse requests once their list is older).',
    mapping: { asi: ['ASI10'], nhi: ['NHI1'], mcp: ['MCP07'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'agent-no-owner',
    title: 'Agent without an owner',
    severity: 'medium',
    fix: 'Set `agents.<id>.owner` to the person accountable for it, who reviews its grants and offboards it.',
    mapping: { asi: ['ASI10'], nhi: ['NHI1'], mcp: ['MCP09'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'agent-unregistered',
    title: 'Agent calls the gateway without being registered',
    severity: 'medium',
    fix: 'Register it under `agents` with an owner, tenant and groups, or revoke it (`warden revoke agent ID`).',
    mapping: { asi: ['ASI10'], nhi: ['NHI1'], mcp: ['MCP09'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'agent-unused',
    title: 'Agent unused for a long time',
    severity: 'low',
    fix: 'Offboard it: remove it from `agents`, revoke it (`warden revoke agent ID`) and delete its client at the identity provider.',
    mapping: { asi: ['ASI03'], nhi: ['NHI1'], mcp: ['MCP09'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'agent-revoked-registered',
    title: 'Revoked agent still registered',
    severity: 'low',
    fix: 'Remove it from `agents` and delete its client at the identity provider.',
    mapping: { asi: ['ASI10'], nhi: ['NHI1'], mcp: [], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'grants-unused',
    title: 'Tools granted but never used',
    severity: 'low',
    fix: 'Grant tasks only the tools they use (least privilege); review what the agent asks for.',
    mapping: { asi: ['ASI03'], nhi: ['NHI5'], mcp: ['MCP02'], maestro: 'L6', nist: 'MANAGE' },
  },
  {
    id: 'tools-unpinned',
    title: 'Tool descriptions of an upstream are not pinned',
    severity: 'medium',
    fix: "Set the server's `integrity` to `trust-on-first-use` (the default) or `pin`, so a changed description is held until reviewed.",
    mapping: { asi: ['ASI04'], nhi: [], mcp: ['MCP03', 'MCP04'], maestro: 'L7', nist: 'MANAGE' },
  },
  {
    id: 'pins-pending',
    title: 'Tool definitions wait for a review',
    severity: 'low',
    fix: 'Review them (`warden tools diff`, then `approve` or `reject`): until then they are held from agents.',
    mapping: { asi: ['ASI04'], nhi: [], mcp: ['MCP03'], maestro: 'L7', nist: 'MANAGE' },
  },
  {
    id: 'pins-unreviewed',
    title: 'Tools of a prod upstream pinned on first use, never reviewed',
    severity: 'low',
    fix: 'Review the pinned definitions once (`warden tools list`, `approve`), or set `integrity: pin` for prod servers.',
    mapping: { asi: ['ASI04'], nhi: [], mcp: ['MCP03', 'MCP04'], maestro: 'L7', nist: 'MANAGE' },
  },
  {
    id: 'pins-unavailable',
    title: 'Tool descriptions are not pinned',
    severity: 'info',
    fix: 'Pin tool descriptions (tool integrity) so a changed description is refused until reviewed.',
    mapping: { asi: ['ASI04'], nhi: [], mcp: ['MCP03', 'MCP04'], maestro: 'L7', nist: 'MANAGE' },
  },
] as const satisfies readonly ReviewCheck[];

export type ReviewCheckId = (typeof checks)[number]['id'];
export const REVIEW_CHECKS: readonly ReviewCheck[] = checks;
export const reviewCheck = (id: ReviewCheckId): ReviewCheck => REVIEW_CHECKS.find((c) => c.id === id)!;
