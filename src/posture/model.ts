/**
 * What the posture scan reads and reports. A client config file is read into ServerEntries whose string
 * values are Slots, each with its place in the file (a JSON pointer, and a line and column); rules turn
 * slots into Findings. A finding never holds a secret value: a fingerprint and a position stand for it.
 */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);
export const isSeverity = (s: string): s is Severity => (SEVERITIES as readonly string[]).includes(s);
export const severityAtLeast = (s: Severity, threshold: Severity): boolean =>
  severityRank(s) >= severityRank(threshold);

/** The MCP clients whose configuration files are read. */
export type ClientKind =
  | 'claude-desktop'
  | 'claude-code'
  | 'cursor'
  | 'vscode'
  | 'windsurf'
  | 'codex'
  | 'gemini'
  | 'zed'
  | 'continue'
  | 'warden'
  | 'generic';

/** user: a per-user file; project: in a repository, usually committed and shared; gateway: a warden.yaml. */
export type ConfigScope = 'user' | 'project' | 'gateway';

/** A position in a file: 1-based line and column. */
export interface Position {
  line: number;
  column: number;
}

export type SlotKind = 'command' | 'arg' | 'env' | 'header' | 'url' | 'cwd' | 'setting';

/** One string value of a server's config. */
export interface Slot {
  kind: SlotKind;
  /** The env var, header or setting name; for args the index as text. */
  name: string;
  value: string;
  /** RFC 6901 pointer to the value in the file. */
  pointer: string;
  position: Position;
}

export type Transport = 'stdio' | 'http' | 'sse';

/** A server entry of a client config, normalised over the clients' shapes. */
export interface ServerEntry {
  name: string;
  /** Pointer to the server's object in the file. */
  pointer: string;
  position: Position;
  transport: Transport;
  command?: string;
  args: string[];
  env: Record<string, string>;
  url?: string;
  headers: Record<string, string>;
  cwd?: string;
  /** Every string value, with its place: command, args, env, url, headers, cwd, extension settings. */
  slots: Slot[];
  /** A credential the client supplies from elsewhere (Codex bearer_token_env_var, an OAuth block). */
  externalAuth: boolean;
  /** Where the client is told to run the server's tools without asking (Gemini trust, alwaysAllow, autoApprove). */
  autoApprove?: { pointer: string; position: Position; what: string };
  disabled: boolean;
  /** Keys of the server's object that are neither launch nor connection settings (timeouts, tool filters, ...). */
  extraKeys: string[];
  /** warden.yaml only: the server's environment label. */
  environment?: string;
}

export interface ClientConfig {
  /** Absolute path. */
  file: string;
  client: ClientKind;
  scope: ConfigScope;
  format: 'json' | 'jsonc' | 'toml' | 'yaml';
  servers: ServerEntry[];
  /** warden.yaml only: the gateway's MCP URL (publicUrl, else http://listen/mcp). */
  gatewayUrl?: string;
}

/** A file that looked like a client config but could not be read; reported, never fatal. */
export interface UnreadableConfig {
  file: string;
  client: ClientKind;
  reason: string;
}

export interface FrameworkMapping {
  /** OWASP Top 10 for Agentic Applications (2026). */
  asi: string[];
  /** OWASP Non-Human Identities Top 10 (2025). */
  nhi: string[];
  /** OWASP MCP Top 10 (beta). */
  mcp: string[];
  /** CSA MAESTRO layer. */
  maestro: string;
  /** NIST AI RMF 1.0 core function. */
  nist: 'GOVERN' | 'MAP' | 'MEASURE' | 'MANAGE';
}

export interface Finding {
  /** The rule, e.g. `hardcoded-secret`. */
  rule: string;
  /** Stable across runs for the same problem at the same place: `<rule>:<sha256 of file, pointer and detail>`. */
  id: string;
  severity: Severity;
  file: string;
  pointer: string;
  position: Position;
  /** The server concerned, when there is one. */
  server?: string;
  client: ClientKind;
  /** What was found and why it matters; never a secret value. */
  why: string;
  fix: string;
  /** For secrets: `sha256:` and 16 hex digits over the value, to match reuse without showing it. */
  fingerprint?: string;
  /** Which detector matched (a secretlint rule id, `mcp/secret-name`, ...). */
  detector?: string;
  mapping: FrameworkMapping;
}
