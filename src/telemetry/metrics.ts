/**
 * Prometheus metrics (prom-client), served at GET /metrics when `metrics.enabled`. Request counts, decisions
 * and latencies are taken from the audit records as they commit: one source for both, so a metric never
 * counts a call the audit log does not hold. Labels are bounded: methods outside the MCP set read `other`,
 * upstream names come from the config.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent } from '../audit/event.js';

const METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  'server/discover',
  'roots/use',
  'http',
  'session/end',
  'upstream/down',
  'secret/use',
  'approval/request',
]);

export interface MetricsSources {
  sessions: () => number;
  upstreamProcesses: () => number;
  /** 1 when the store answered within the deadline, else 0. */
  storeUp: () => number;
  ready: () => number;
  revocationAgeSeconds: () => number;
  auditQueue: () => number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'outcome' | 'upstream'>;
  private readonly decisions: Counter<'effect'>;
  private readonly latency: Histogram<'method' | 'outcome'>;
  private readonly auditLag: Histogram;
  private readonly restarts: Counter<'upstream'>;
  private readonly intents: Counter;

  constructor(sources: MetricsSources, known: { upstreams: () => readonly string[] }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'warden_' });
    this.requests = new Counter({ name: 'warden_requests_total', help: 'Requests by MCP method, outcome and upstream (from their audit records)', labelNames: ['method', 'outcome', 'upstream'], registers });
    this.decisions = new Counter({ name: 'warden_decisions_total', help: 'Policy decisions by effect', labelNames: ['effect'], registers });
    this.latency = new Histogram({
      name: 'warden_request_duration_seconds',
      help: 'Time from a request arriving to its audit record, by method and outcome',
      labelNames: ['method', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.auditLag = new Histogram({ name: 'warden_audit_append_lag_seconds', help: 'Time from an audit record being queued to its commit', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers });
    this.intents = new Counter({ name: 'warden_audit_intents_total', help: 'Intent records committed before a call was forwarded (strict audit)', registers });
    this.restarts = new Counter({ name: 'warden_upstream_restarts_total', help: 'Upstream connections lost (each is restarted with backoff)', labelNames: ['upstream'], registers });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    gauge('warden_sessions', 'Open MCP sessions on this replica', sources.sessions);
    gauge('warden_upstream_processes', 'Upstream server processes running', sources.upstreamProcesses);
    gauge('warden_store_up', '1 when the store answered within the deadline', sources.storeUp);
    gauge('warden_ready', '1 when this replica is ready (see /readyz)', sources.ready);
    gauge('warden_revocation_age_seconds', 'Seconds since the revocation list was confirmed current', sources.revocationAgeSeconds);
    gauge('warden_audit_queue', 'Audit records waiting to be committed', sources.auditQueue);
    this.upstreams = known.upstreams;
  }

  private readonly upstreams: () => readonly string[];

  /** One committed audit record, `lagMs` after it was queued. */
  observe(e: AuditEvent, lagMs: number): void {
    this.auditLag.observe(lagMs / 1000);
    if (e.outcome === 'intent') {
      this.intents.inc();
      return;
    }
    const method = METHODS.has(e.method) ? e.method : 'other';
    const upstream = e.upstream !== null && this.upstreams().includes(e.upstream) ? e.upstream : e.upstream === null ? '' : 'other';
    if (method === 'upstream/down') {
      this.restarts.inc({ upstream });
      return;
    }
    this.requests.inc({ method, outcome: e.outcome, upstream });
    this.latency.observe({ method, outcome: e.outcome }, e.latencyMs / 1000);
    if (e.decision) this.decisions.inc({ effect: e.decision.effect });
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
