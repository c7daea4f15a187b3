/** What `warden review` reads and reports. */
import type { WardenConfig } from '../config/index.js';
import type { GatewayPolicy, ServerFacts, Subject, ToolClass } from '../policy/index.js';
import type { Store } from '../store/index.js';
import type { FrameworkMapping, Severity } from './model.js';

export type SubjectKind = 'gateway' | 'agent' | 'upstream';

export interface ReviewFinding {
  /** A review check id (review-rules.ts) or a scan rule id (scan-rules.ts) for what the scan of warden.yaml found. */
  check: string;
  id: string;
  severity: Severity;
  subject: { kind: SubjectKind; name: string };
  why: string;
  fix: string;
  mapping: FrameworkMapping;
}

export type Verdict = 'yes' | 'partial' | 'no' | 'n/a';

export interface Readiness {
  verifiable: Verdict;
  scoped: Verdict;
  logged: Verdict;
  rotated: Verdict;
  revocable: Verdict;
}

export interface AgentReadiness extends Readiness {
  agent: string;
  owner: string | null;
  registered: boolean;
  /** ISO-8601 time of its newest audit event, or null. */
  lastSeen: string | null;
}

export type CredentialKind = 'none' | 'vault' | 'lease' | 'literal';

export interface UpstreamReadiness extends Readiness {
  upstream: string;
  environment: string;
  credential: CredentialKind;
}

export interface ReviewReport {
  config: string;
  store: string | null;
  generatedAt: string;
  summary: Record<Severity, number>;
  agents: AgentReadiness[];
  upstreams: UpstreamReadiness[];
  findings: ReviewFinding[];
  /** Facts worth knowing that are not findings (what could not be checked, and why). */
  notes: string[];
}

/** What the review needs from modules it must not import (the gateway's own classification and subject rules, audit verification). */
export interface ReviewDeps {
  serverFacts(name: string, server: WardenConfig['mcpServers'][string]): ServerFacts;
  classifyTool(server: WardenConfig['mcpServers'][string], tool: Record<string, unknown>): ToolClass;
  subjectOf(agents: WardenConfig['agents'], principal: { agent: string; method: string }): Subject;
  exposedName(server: string, tool: string): string;
  verifyAudit(store: Store): Promise<{ ok: boolean; events: number; problem?: string }>;
}

/** A pinned (or pending) tool or prompt definition, as the tool integrity store lists it. */
export interface PinRecord {
  upstream: string;
  kind: string;
  name: string;
  state: string;
  decidedBy: string | null;
}

/** Where pins are read from, when the gateway has tool integrity (the store's `integrity`). */
export interface PinSource {
  list(filter?: { upstream?: string }): Promise<PinRecord[]>;
}

export interface ReviewInput {
  configFile: string;
  config: WardenConfig;
  baseDir: string;
  /** The store, when it exists (a SQLite file the gateway never created is not made by a review). */
  store: Store | undefined;
  /** The policy set, or why it did not load. */
  policy: GatewayPolicy | { error: string } | undefined;
  deps: ReviewDeps;
  now: Date;
  /** An agent with no audit event for this many days is reported unused. */
  unusedDays: number;
  /** A vault secret older than this many days is reported not rotated. */
  maxSecretAgeDays: number;
  home: string;
  /** Tool pins, when the store keeps them; absent: reported as unavailable. */
  pins?: PinSource | undefined;
}
