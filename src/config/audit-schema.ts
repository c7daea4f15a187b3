/** Config `audit`: what a record keeps, checkpoints, retention, and the sinks events are exported to. */
import { z } from 'zod';

export const AuditSchema = z.strictObject({
  /** What of a call's arguments the record keeps: nothing, a digest (default), or a redacted copy. */
  arguments: z.enum(['none', 'digest', 'redacted']).default('digest'),
  /**
   * Strict audit: an intent record is committed before a call is forwarded to an upstream, and the call's own
   * record (naming it) when it ends; a call whose intent cannot be stored is refused before it runs.
   */
  strict: z.boolean().default(true),
  checkpoint: z
    .strictObject({ everyEvents: z.number().int().positive().default(1000), everySeconds: z.number().positive().default(60) })
    .prefault({}),
  /** Days of events to keep; 0 keeps everything. Pruning leaves the chain verifiable from a checkpoint. */
  retentionDays: z.number().min(0).default(0),
  sinks: z
    .strictObject({
      jsonl: z
        .strictObject({
          dir: z.string().min(1).default('.warden/audit'),
          fileName: z.string().regex(/^[A-Za-z0-9._-]+$/).default('warden-audit.jsonl'),
          maxBytes: z.number().int().min(1024).default(100 * 1024 * 1024),
          keepFiles: z.number().int().min(1).max(1000).default(10),
          fsync: z.boolean().default(true),
        })
        .optional(),
      /** The HMAC secret is read from the environment variable named here, never from the config file. */
      webhook: z
        .strictObject({
          url: z.url({ protocol: /^https?$/ }),
          secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('WARDEN_AUDIT_WEBHOOK_SECRET'),
          timeoutMs: z.number().int().positive().default(10_000),
          headers: z.record(z.string(), z.string()).default({}),
        })
        .optional(),
      otlp: z
        .strictObject({
          endpoint: z.url({ protocol: /^https?$/ }),
          headers: z.record(z.string(), z.string()).default({}),
          timeoutMs: z.number().int().positive().default(10_000),
          serviceName: z.string().min(1).default('mcp-warden'),
        })
        .optional(),
    })
    .prefault({}),
  /** How the exporter reads the audit table (the outbox) and retries sinks that are down. */
  export: z
    .strictObject({
      batchSize: z.number().int().min(1).max(5000).default(500),
      pollMs: z.number().int().min(0).default(5000),
      minBackoffMs: z.number().int().positive().default(1000),
      maxBackoffMs: z.number().int().positive().default(60_000),
    })
    .prefault({}),
});

export type AuditConfig = z.infer<typeof AuditSchema>;
