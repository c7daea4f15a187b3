/** Audit exports: sinks (JSONL file, webhook, OTLP) fed from the audit table by a pump. */
import { isAbsolute, resolve } from 'node:path';
import type { AuditConfig } from '../../config/schema.js';
import { JsonlSink } from './jsonl.js';
import { OtlpSink } from './otlp.js';
import type { Sink } from './types.js';
import { WebhookSink } from './webhook.js';

export type { CursorStore, EventSource, SequencedEvent, Sink } from './types.js';
export { seqOf } from './types.js';
export { SinkPump, backoffDelay, type PumpOptions, type SinkStatus } from './pump.js';
export { JsonlSink, type JsonlSinkOptions } from './jsonl.js';
export { WebhookSink, signWebhook, verifyWebhookSignature, type WebhookSinkOptions } from './webhook.js';
export { OtlpSink, eventToSpan, spanIds, toOtlpRequest, type OtlpSinkOptions, type OtlpSpan } from './otlp.js';
export { eventExtras, delegationPath, type EventExtras } from './fields.js';

/** The `audit.sinks` config block, as the schema in config/schema.ts defines it. */
export type AuditSinksConfig = AuditConfig['sinks'];

/**
 * Builds the configured sinks. Relative paths are resolved against the config file's directory; the
 * webhook secret is read from the environment variable the config names (never from the file itself).
 */
export function createSinks(cfg: AuditSinksConfig | undefined, opts: { baseDir: string; env?: NodeJS.ProcessEnv; version?: string }): Sink[] {
  const sinks: Sink[] = [];
  if (!cfg) return sinks;
  const env = opts.env ?? process.env;
  if (cfg.jsonl) {
    const dir = isAbsolute(cfg.jsonl.dir) ? cfg.jsonl.dir : resolve(opts.baseDir, cfg.jsonl.dir);
    sinks.push(new JsonlSink({ ...cfg.jsonl, dir }));
  }
  if (cfg.webhook) {
    const secret = env[cfg.webhook.secretEnv];
    if (!secret) throw new Error(`audit.sinks.webhook: the environment variable ${cfg.webhook.secretEnv} (the signing secret) is not set`);
    sinks.push(new WebhookSink({ url: cfg.webhook.url, secret, timeoutMs: cfg.webhook.timeoutMs, headers: cfg.webhook.headers }));
  }
  if (cfg.otlp) sinks.push(new OtlpSink({ ...cfg.otlp, serviceVersion: opts.version }));
  return sinks;
}
