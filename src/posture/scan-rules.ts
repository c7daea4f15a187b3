/**
 * The scan's rules: what each one finds, the fix, and how it maps to the frameworks. Detectors (src/posture/
 * detect-*.ts) decide where a rule applies and its severity there; the text here is the same for every hit.
 */
import type { FrameworkMapping, Severity } from './model.js';

export interface ScanRule {
  id: string;
  title: string;
  /** The severity most hits get; a detector may raise or lower it with the circumstances it sees. */
  severity: Severity;
  description: string;
  fix: string;
  mapping: FrameworkMapping;
}

const rules = [
  {
    id: 'hardcoded-secret',
    title: 'Secret written in clear into an MCP config',
    severity: 'high',
    description:
      'A credential is written in clear into a config file (args, env, headers or URL). Anyone who can read the file, its backups or the repository it is committed to can use it, and every process that reads the config holds it.',
    fix: 'Move it into the vault (`warden migrate FILE`, or `warden secret set NAME` and `${secret:NAME}` in warden.yaml), serve the server through the gateway, and rotate the credential: it has been exposed.',
    mapping: { asi: ['ASI03'], nhi: ['NHI2'], mcp: ['MCP01'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'long-lived-token',
    title: 'Long-lived or non-expiring token',
    severity: 'medium',
    description:
      'A JWT in the config has no expiry, or one far in the future: if it leaks it stays usable, and nothing forces its rotation.',
    fix: 'Use short-lived credentials issued per task (`leases` in warden.yaml, or token exchange), or at least a token that expires within 90 days, kept in the vault.',
    mapping: { asi: ['ASI03'], nhi: ['NHI7'], mcp: ['MCP01'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'plain-http-remote',
    title: 'Remote MCP server over plain HTTP',
    severity: 'high',
    description:
      'A server on another host is reached over http://: credentials, tool descriptions and results travel unencrypted and unauthenticated, so anyone on the path can read them or inject tools.',
    fix: 'Use https:// (TLS) for every server that is not on this machine, or reach it through the gateway, which connects upstream over TLS.',
    mapping: { asi: ['ASI07'], nhi: ['NHI4'], mcp: ['MCP01', 'MCP07'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'remote-no-auth',
    title: 'Remote MCP server without a configured credential',
    severity: 'low',
    description:
      'A remote server is configured without any credential (no Authorization or API-key header, no token in the URL, no bearer token variable). Unless the client negotiates OAuth with it, any caller can use its tools.',
    fix: 'Require authentication on the server (OAuth 2.1, or a token kept in the vault and injected by the gateway) and put the gateway in front of it.',
    mapping: { asi: ['ASI03'], nhi: ['NHI4'], mcp: ['MCP07'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'unpinned-package',
    title: 'Server package or image not pinned to a version',
    severity: 'medium',
    description:
      'The server is started from a registry package without an exact version (`npx -y pkg`, `@latest`, `uvx pkg`, an image without a tag or with :latest): whatever is published next runs with the credentials the server is given.',
    fix: 'Pin an exact version (`pkg@1.2.3`, `uvx pkg==1.2.3`, `image@sha256:...`), update deliberately, and let the gateway pin the tool descriptions it serves.',
    mapping: { asi: ['ASI04'], nhi: ['NHI3'], mcp: ['MCP04'], maestro: 'L7', nist: 'MANAGE' },
  },
  {
    id: 'broad-filesystem-root',
    title: 'Server given the whole disk or home directory',
    severity: 'high',
    description:
      'A server is given `/`, a drive root or a home directory as its root: every agent that can call it can read (and often write) SSH keys, cloud credentials and other projects.',
    fix: 'Give the server only the project folder it needs, and let policy narrow paths further (`policy.pathArguments` with path conditions in Cedar).',
    mapping: { asi: ['ASI02'], nhi: ['NHI5'], mcp: ['MCP02', 'MCP10'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'privileged-container',
    title: 'Container started with host privileges or host mounts',
    severity: 'high',
    description:
      'The server runs in a container with --privileged, host namespaces, added capabilities, the Docker socket or a sensitive host path mounted: code in it (or a prompt-injected call) reaches the host.',
    fix: 'Drop --privileged and host namespaces, add no capabilities, mount only the project folder (read-only where possible), never the Docker socket.',
    mapping: { asi: ['ASI05'], nhi: ['NHI5'], mcp: ['MCP05', 'MCP02'], maestro: 'L4', nist: 'MANAGE' },
  },
  {
    id: 'credential-reuse',
    title: 'Same credential used by several servers or clients',
    severity: 'high',
    description:
      'One secret value appears in several server entries (other servers, other clients or other environments): it cannot be revoked or rotated for one without the others, and a leak anywhere exposes all of them.',
    fix: 'Issue one credential per server and environment, store each in the vault scoped to its upstream and environment, and rotate the shared one.',
    mapping: { asi: ['ASI03'], nhi: ['NHI9', 'NHI8'], mcp: ['MCP01'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'gateway-bypass',
    title: 'Server reached directly although the client uses the gateway',
    severity: 'high',
    description:
      "The client reaches this server directly although it is also configured with the gateway (`warden connect`): calls to it escape the gateway's authentication, policy, approvals and audit.",
    fix: 'Add the server to warden.yaml and remove it from the client config (`warden migrate FILE` does both), so that every call goes through the gateway.',
    mapping: { asi: ['ASI03', 'ASI02'], nhi: ['NHI5'], mcp: ['MCP09', 'MCP08'], maestro: 'L6', nist: 'GOVERN' },
  },
  {
    id: 'tool-approval-bypassed',
    title: "Client told to run a server's tools without asking",
    severity: 'medium',
    description:
      'The client is configured to trust the server or auto-approve its tools (Gemini `trust`, `alwaysAllow`, `autoApprove`): a poisoned tool description or a prompt injection runs tools with no human in the loop.',
    fix: 'Remove the auto-approval and decide per call in the gateway: Cedar policy, with `@approval` for destructive or open-world tools.',
    mapping: { asi: ['ASI02', 'ASI09'], nhi: [], mcp: ['MCP03', 'MCP06'], maestro: 'L3', nist: 'MANAGE' },
  },
] as const satisfies readonly ScanRule[];

export type ScanRuleId = (typeof rules)[number]['id'];
export const SCAN_RULES: readonly ScanRule[] = rules;
export const scanRule = (id: ScanRuleId): ScanRule => SCAN_RULES.find((r) => r.id === id)!;
