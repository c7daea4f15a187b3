/**
 * OpenTelemetry sink: each audit event becomes one span, sent as OTLP/HTTP JSON to `{endpoint}/v1/traces`
 * (resourceSpans -> scopeSpans -> spans). Plain JSON over fetch: the OTLP JSON encoding is small and
 * stable, and the SDK would add a dozen packages, its own batching and retry (the pump already does both,
 * from a durable outbox) and a second clock.
 *
 * Span: name `${method} ${upstream}/${target}`, kind SERVER, start = event.time, end = start + latencyMs,
 * status ERROR (with the error code) unless the outcome is ok. traceId and spanId are derived from the
 * event id (sha256), so a redelivered event is the same span and collectors can deduplicate it.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent } from '../event.js';
import { eventExtras } from './fields.js';
import type { Sink } from './types.js';
import { describeFetchError } from './webhook.js';

export interface OtlpSinkOptions {
  /** The collector's base URL, e.g. http://127.0.0.1:4318; spans go to `${endpoint}/v1/traces`. */
  endpoint: string;
  /** Extra headers, e.g. an API key. */
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** `service.name` of the resource. Default `mcp-warden`. */
  serviceName?: string;
  serviceVersion?: string;
  /** Sink (and cursor) name. Default `otlp`. */
  name?: string;
}

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: AnyValue[] } };
export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  status: { code: number; message?: string };
}

const SPAN_KIND_SERVER = 2;
const STATUS_OK = 1;
const STATUS_ERROR = 2;
/** An intent (strict audit) has not ended yet: neither ok nor an error. */
const STATUS_UNSET = 0;

/** Deterministic OTLP ids for an event id: 32 and 16 lowercase hex characters. */
export function spanIds(eventId: string): { traceId: string; spanId: string } {
  const h = createHash('sha256').update(`mcp-warden/audit/${eventId}`).digest('hex');
  return { traceId: h.slice(0, 32), spanId: h.slice(32, 48) };
}

function attributes(e: AuditEvent): KeyValue[] {
  const x = eventExtras(e);
  const out: KeyValue[] = [];
  const put = (key: string, v: string | number | string[] | null | undefined, kind: 'int' | 'double' = 'int') => {
    if (v === null || v === undefined || v === '') return;
    if (Array.isArray(v)) {
      if (v.length > 0) out.push({ key, value: { arrayValue: { values: v.map((s) => ({ stringValue: s })) } } });
    } else if (typeof v === 'number') out.push({ key, value: kind === 'double' ? { doubleValue: v } : { intValue: String(Math.trunc(v)) } });
    else out.push({ key, value: { stringValue: v } });
  };
  put('warden.event_id', e.id);
  put('warden.seq', x.seq);
  put('warden.instance', e.instance);
  put('warden.agent', e.agent);
  put('warden.user', e.user);
  put('warden.tenant', e.tenant);
  put('warden.chain', e.chain);
  put('warden.auth_method', e.authMethod);
  put('warden.task', x.task);
  put('warden.outcome', e.outcome);
  put('warden.error_code', e.errorCode);
  put('warden.decision', x.effect);
  put('warden.policy_ids', x.policyIds);
  put('warden.policy_version', x.policyVersion);
  put('warden.approval_id', x.approvalId);
  put('warden.lease_ids', x.leaseIds);
  put('warden.args_digest', e.argsDigest);
  put('warden.latency_ms', e.latencyMs, 'double');
  put('mcp.method', e.method);
  put('mcp.upstream', e.upstream);
  put('mcp.target', e.target);
  put('mcp.session_id', e.sessionId);
  put('mcp.protocol_version', e.protocolVersion);
  put('mcp.upstream_status', x.upstreamStatus);
  return out;
}

export function eventToSpan(e: AuditEvent): OtlpSpan {
  const startMs = Date.parse(e.time);
  if (Number.isNaN(startMs)) throw new Error(`audit event ${e.id} has an invalid time`);
  const start = BigInt(startMs) * 1_000_000n;
  const end = start + BigInt(Math.max(0, Math.round(e.latencyMs * 1_000_000)));
  const where = [e.upstream, e.target].filter(Boolean).join('/');
  return {
    ...spanIds(e.id),
    name: where ? `${e.method} ${where}` : e.method,
    kind: SPAN_KIND_SERVER,
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: end.toString(),
    attributes: attributes(e),
    status: e.outcome === 'ok' ? { code: STATUS_OK } : e.outcome === 'intent' ? { code: STATUS_UNSET } : { code: STATUS_ERROR, message: e.errorCode ?? e.outcome },
  };
}

/** The OTLP/HTTP JSON request body (ExportTraceServiceRequest) for a batch. */
export function toOtlpRequest(events: AuditEvent[], serviceName = 'mcp-warden', serviceVersion?: string): unknown {
  const resource: KeyValue[] = [{ key: 'service.name', value: { stringValue: serviceName } }];
  if (serviceVersion) resource.push({ key: 'service.version', value: { stringValue: serviceVersion } });
  return {
    resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'mcp-warden.audit', ...(serviceVersion ? { version: serviceVersion } : {}) }, spans: events.map(eventToSpan) }] }],
  };
}

export class OtlpSink implements Sink {
  readonly name: string;
  private readonly url: URL;

  constructor(private readonly opts: OtlpSinkOptions) {
    this.name = opts.name ?? 'otlp';
    let base: URL;
    try {
      base = new URL(opts.endpoint);
    } catch {
      throw new Error(`otlp sink ${this.name}: the endpoint is not a valid URL`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`otlp sink ${this.name}: the endpoint must be http or https`);
    base.pathname = base.pathname.replace(/\/+$/, '') + '/v1/traces';
    this.url = base;
  }

  async deliver(events: AuditEvent[]): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { ...this.opts.headers, 'content-type': 'application/json' },
        body: JSON.stringify(toOtlpRequest(events, this.opts.serviceName, this.opts.serviceVersion)),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new Error(`otlp ${this.name}: ${describeFetchError(err, timeoutMs)}`);
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new Error(`otlp ${this.name}: the collector answered HTTP ${res.status}`);
  }
}
