/**
 * The decision path for every MCP request: route, forward, record. Later steps (authenticate, decide, hold,
 * broker, filter) slot in here; this module composes the steps and owns none of their logic.
 */
import type { AuditOutcome } from '../audit/event.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { ServerConfig, WardenConfig } from '../config/schema.js';
import { errorCodeOf, toJsonRpcError, WardenError } from '../protocol/errors.js';
import { errorResponse, successResponse, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/jsonrpc.js';
import { SUPPORTED_REVISIONS } from '../protocol/revisions.js';
import type { Principal } from '../identity/principal.js';
import type { Logger } from '../telemetry/log.js';
import type { RequestOutbound } from './channel.js';
import { route, type RouteContext } from './router.js';
import { GatewaySession, type SessionInit } from './session.js';

export interface GatewayOptions {
  config: WardenConfig;
  audit: AuditRecorder;
  log: Logger;
  version: string;
}

/** What the ingress knows about a request, for the audit record. */
export interface RequestMeta {
  protocolVersion: string | null;
  startedAt: number;
  /** Who asked; null when the request was refused before authentication succeeded. */
  principal: Principal | null;
}

/** The principal part of an audit event. */
export function auditPrincipal(p: Principal | null) {
  return { agent: p?.agent ?? null, user: p?.user ?? null, tenant: p?.tenant ?? null, chain: p?.chain ?? [], authMethod: p?.method ?? null, task: p?.task ?? null };
}

const CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  logging: {},
  completions: {},
};

/** For locally answered requests: nothing is streamed, nothing cancels. */
const NO_STREAM: RequestOutbound = { send: () => false, signal: new AbortController().signal };

function outcomeOf(err: unknown): AuditOutcome {
  const code = errorCodeOf(err);
  if (code === 'upstream_timeout') return 'timeout';
  if (code === 'cancelled') return 'cancelled';
  if (code === 'audit_unavailable') return 'denied';
  return 'error';
}

export class Gateway {
  private readonly servers: ReadonlyMap<string, ServerConfig>;
  private stateless?: GatewaySession;
  private auditHealthy = true;

  constructor(private readonly opts: GatewayOptions) {
    this.servers = new Map(Object.entries(opts.config.mcpServers).filter(([, s]) => !s.disabled));
  }

  get serverNames(): string[] {
    return [...this.servers.keys()];
  }

  openSession(init: SessionInit): GatewaySession {
    const { config, log, version } = this.opts;
    return new GatewaySession(init, {
      servers: this.servers,
      naming: { ...config.naming, upstreamCount: this.servers.size },
      callTimeoutMs: config.limits.callTimeoutMs,
      log,
      version,
      onUpstreamDown: (upstream, sessionId) =>
        void this.recordOutcome('upstream/down', sessionId, { protocolVersion: null, startedAt: Date.now(), principal: null }, new WardenError('upstream_crashed', 'upstream connection lost'), upstream).catch(
          () => undefined,
        ),
    });
  }

  /** Stateless (2026-07-28) requests share one set of upstream connections that declare no client capabilities. */
  statelessSession(): GatewaySession {
    this.stateless ??= this.openSession({ id: null, protocolVersion: SUPPORTED_REVISIONS[0]!, clientInfo: {}, clientCapabilities: {} });
    return this.stateless;
  }

  initializeResult(protocolVersion: string): Record<string, unknown> {
    return { protocolVersion, capabilities: CAPABILITIES, serverInfo: { name: 'mcp-warden', version: this.opts.version } };
  }

  discoverResult(): Record<string, unknown> {
    return { supportedVersions: SUPPORTED_REVISIONS, capabilities: CAPABILITIES, serverInfo: { name: 'mcp-warden', version: this.opts.version } };
  }

  /** Handles one client request end to end and returns the response to send; never throws. */
  handle(session: GatewaySession, req: JsonRpcRequest, out: RequestOutbound, meta: RequestMeta): Promise<JsonRpcResponse> {
    return this.run(session, req, meta, (ctx) => route(ctx, req), out);
  }

  /** A request the gateway answers itself (initialize, server/discover): audited like any other. */
  handleLocal(session: GatewaySession, req: JsonRpcRequest, meta: RequestMeta, answer: () => Record<string, unknown>): Promise<JsonRpcResponse> {
    return this.run(session, req, meta, async () => answer());
  }

  private async run(
    session: GatewaySession,
    req: JsonRpcRequest,
    meta: RequestMeta,
    produce: (ctx: RouteContext) => Promise<Record<string, unknown>>,
    out: RequestOutbound = NO_STREAM,
  ): Promise<JsonRpcResponse> {
    session.lastSeen = Date.now();
    const ctx: RouteContext = {
      session,
      out,
      timeoutMs: (name) => this.servers.get(name)?.timeoutMs ?? this.opts.config.limits.callTimeoutMs,
      argumentsMode: this.opts.config.audit.arguments,
      audit: { upstream: null, target: null, argsDigest: null, arguments: null, upstreamStatus: null },
    };
    let result: Record<string, unknown> | undefined;
    let failure: unknown;
    if (!this.auditHealthy || !this.opts.audit.available()) {
      // The audit log failed on an earlier request, or its store is closed: refuse before anything reaches an upstream.
      failure = new WardenError('audit_unavailable', 'The audit log is unavailable; the request was refused', -32004, 503);
    } else {
      try {
        result = await produce(ctx);
      } catch (err) {
        failure = err;
        if (errorCodeOf(err) === 'internal') this.opts.log.error({ err, method: req.method }, 'unexpected error');
      }
    }
    try {
      await this.opts.audit.record({
        startedAt: meta.startedAt,
        ...auditPrincipal(meta.principal),
        sessionId: session.id,
        protocolVersion: meta.protocolVersion,
        method: req.method,
        upstream: ctx.audit.upstream,
        target: ctx.audit.target,
        argsDigest: ctx.audit.argsDigest,
        arguments: ctx.audit.arguments,
        upstreamStatus: ctx.audit.upstreamStatus,
        outcome: failure === undefined ? 'ok' : outcomeOf(failure),
        errorCode: failure === undefined ? null : errorCodeOf(failure),
      });
      this.auditHealthy = true;
    } catch (err) {
      this.auditHealthy = false;
      return errorResponse(req.id, toJsonRpcError(err));
    }
    return failure === undefined ? successResponse(req.id, result!) : errorResponse(req.id, toJsonRpcError(failure));
  }

  /** Records an event the ingress handled itself (a token exchange, a session ended). Throws if it cannot be stored. */
  async recordOutcome(method: string, sessionId: string | null, meta: RequestMeta, failure?: unknown, upstream: string | null = null): Promise<void> {
    await this.opts.audit.record({
      startedAt: meta.startedAt,
      ...auditPrincipal(meta.principal),
      sessionId,
      protocolVersion: meta.protocolVersion,
      method,
      upstream,
      target: null,
      argsDigest: null,
      outcome: failure === undefined ? 'ok' : outcomeOf(failure),
      errorCode: failure === undefined ? null : errorCodeOf(failure),
    });
  }

  /** Records a message refused before it reached the decision path (bad JSON, bad headers, unknown session). */
  async recordRejected(method: string, sessionId: string | null, meta: RequestMeta, err: unknown): Promise<void> {
    await this.recordOutcome(method, sessionId, meta, err).catch(() => (this.auditHealthy = false));
  }

  async close(): Promise<void> {
    await this.stateless?.close();
  }
}
