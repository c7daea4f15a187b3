/** What a downstream session is opened with: its client's facts and the gateway parts it uses. */
import type { ServerConfig } from '../config/schema.js';
import type { ConcurrencyLimit } from '../core/limits.js';
import type { InjectedSecret, Redactor } from '../credentials/redactor.js';
import type { Principal } from '../identity/principal.js';
import type { Logger } from '../telemetry/log.js';
import type { UpstreamBounds, UpstreamDownCode } from '../upstream/index.js';
import type { Collision, NamingPolicy } from './catalog.js';
import type { ConnectionPool } from './connections.js';
import type { Confinement } from './reach.js';
import type { GatewaySession } from './session.js';

export interface SessionInit {
  id: string | null;
  protocolVersion: string;
  clientInfo: Record<string, unknown>;
  clientCapabilities: Record<string, unknown>;
  /** Who opened the session (null: the shared stateless session); upstream credentials are prepared for it. */
  owner?: Principal | null;
}

export interface SessionDeps {
  /** Where upstream connections come from (and go back to). */
  pool: ConnectionPool;
  servers: ReadonlyMap<string, ServerConfig>;
  naming: NamingPolicy;
  callTimeoutMs: number;
  log: Logger;
  version: string;
  /** An upstream connection of this session was lost (a crash, a refused connect, a broken bound): for the audit log. */
  onUpstreamDown?: (upstream: string, sessionId: string | null, code: UpstreamDownCode) => void;
  /** What an upstream may send (size, depth, notification rate), and the calls in flight per upstream across sessions. */
  upstreamBounds?: UpstreamBounds;
  upstreamCalls?: ConcurrencyLimit;
  /**
   * The config an upstream connection of this session is opened with, prepared before every (re)connect:
   * where credentials are injected for the session's owner. Throws to refuse the connection.
   */
  prepareServer?: (upstream: string, server: ServerConfig, owner: Principal | null) => Promise<ServerConfig | PreparedServer>;
  /** Every value injected into any upstream connection of the gateway, redacted from everything upstreams send. */
  redactor: Redactor;
  /** The upstreams' roots and how their paths resolve. */
  confinement: Confinement;
  /** Decides (and audits) which of the client roots, already narrowed to the configured ones, an upstream gets. */
  decideRoots?: (session: GatewaySession, upstream: string, roots: readonly string[]) => Promise<string[]>;
  /** Several listed items claim one exposed name: all are withheld; this hears of it (for the log and audit). */
  onCollision?: (c: Collision, session: GatewaySession) => void;
  /** An upstream said its tools or prompts changed, or reconnected after listing them: checked at once (tool integrity). */
  onListChanged?: (session: GatewaySession, upstream: string, kind: 'tools' | 'prompts') => void;
}

/** A prepared config and the secret values injected into it, which the session then redacts from upstream output. */
export interface PreparedServer {
  server: ServerConfig;
  secrets: readonly InjectedSecret[];
  /** Leases (per-task credentials) in this config, by id: recorded on every call that uses the connection. */
  leaseIds?: readonly string[];
  /** The lease values among `secrets`: redacted until the task ends (then they unlock nothing). */
  leaseSecrets?: readonly InjectedSecret[];
}
