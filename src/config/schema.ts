/**
 * The config schema. The `mcpServers` block takes the shape desktop apps and IDEs already use, so users can
 * paste theirs; everything else has a safe default. Unknown keys are errors: a typo in a security config
 * must not be silently ignored.
 */
import { z } from 'zod';
import { agentIssuerProblems } from './agent-issuers.js';
import { AuditSchema } from './audit-schema.js';
import { AgentSchema, OAuthAuthSchema, TlsSchema, TokenServiceSchema } from './auth-schema.js';
import { LeaseSchema, VaultSchema } from './credentials-schema.js';
import { LimitsSchema } from './limits.js';
import { AdminSchema, ConsoleSchema, IntegritySchema, RevocationSchema } from './operations-schema.js';
import { ApprovalsSchema, PolicySchema } from './policy-schema.js';
import { ServerSchema } from './upstream-schema.js';

/* Each block's schema lives in its own file; re-exported here so every import of ./schema.js keeps working. */
export * from './upstream-schema.js';
export * from './auth-schema.js';
export * from './audit-schema.js';
export * from './credentials-schema.js';
export * from './policy-schema.js';
export * from './operations-schema.js';

const SERVER_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7400');

/** What SIGTERM does: readiness turns 503, the listener closes, calls in flight finish (up to drainSeconds), then exit. */
export const ShutdownSchema = z.strictObject({
  drainSeconds: z.number().min(0).max(3600).default(25),
});

/**
 * Prometheus metrics at GET /metrics. Off by default. `listen`: serve them on a listener of their own (say, an
 * address only the scraper reaches) instead of the gateway's; `tokenEnv`: the environment variable holding a
 * bearer token the scraper must send. On the gateway's own listener beyond loopback, a token is required.
 */
export const MetricsSchema = z.strictObject({
  enabled: z.boolean().default(false),
  listen: hostPort.optional(),
  tokenEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
});

export const ConfigSchema = z
  .strictObject({
    listen: hostPort.default('127.0.0.1:7400'),
    /** The gateway's public MCP URL; defaults to http://<listen>/mcp. */
    publicUrl: z.url().optional(),
    /** SQLite file path (relative to the config file) or a postgres:// URL. */
    store: z.string().min(1).default('.warden/warden.db'),
    /** How clients authenticate. Absent: the gateway refuses to start. `{ mode: none }`: development, loopback only. */
    auth: z.union([z.strictObject({ mode: z.literal('none') }), OAuthAuthSchema]).optional(),
    /** Serve HTTPS; with clientCaFile, require client certificates (mTLS, X.509-SVIDs). */
    tls: TlsSchema.optional(),
    /** Registered agents by id (OAuth client id or SPIFFE ID). */
    agents: z.record(z.string().min(1), AgentSchema).default({}),
    tokenService: TokenServiceSchema.prefault({}),
    /** Extra Host header values accepted besides the listen address (DNS-rebinding guard). */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Origins accepted on browser requests besides the gateway's own. */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    limits: LimitsSchema.prefault({}),
    naming: z
      .strictObject({
        separator: z.string().regex(/^[a-zA-Z0-9_-]{1,8}$/, 'must be 1-8 of [a-zA-Z0-9_-]').default('__'),
        prefix: z.enum(['auto', 'always', 'never']).default('auto'),
      })
      .prefault({}),
    audit: AuditSchema.prefault({}),
    vault: VaultSchema.prefault({}),
    policy: PolicySchema.optional(),
    approvals: ApprovalsSchema.prefault({}),
    admin: AdminSchema.prefault({}),
    console: ConsoleSchema.prefault({}),
    revocation: RevocationSchema.prefault({}),
    integrity: IntegritySchema.prefault({}),
    shutdown: ShutdownSchema.prefault({}),
    metrics: MetricsSchema.prefault({}),
    leases: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'lease names are 1-64 of [A-Za-z0-9_-]'), LeaseSchema).default({}),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
    mcpServers: z.record(z.string().regex(SERVER_NAME, 'server names must be 1-64 of [a-zA-Z0-9_-]'), ServerSchema),
  })
  .superRefine((cfg, ctx) => {
    for (const problem of agentIssuerProblems(cfg)) ctx.addIssue({ code: 'custom', ...problem });
    const names = Object.keys(cfg.mcpServers);
    const sep = cfg.naming.separator;
    for (const name of names) {
      if (name.includes(sep)) {
        ctx.addIssue({ code: 'custom', path: ['mcpServers', name], message: `server name must not contain the naming separator "${sep}"` });
      }
      const server = cfg.mcpServers[name]!;
      if (server.clientRoots && (server.roots ?? []).length === 0) {
        ctx.addIssue({ code: 'custom', path: ['mcpServers', name, 'clientRoots'], message: 'needs roots: a client root is passed on only inside the configured ones' });
      }
      (server.roots ?? []).forEach((root, i) => {
        const uri = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(root);
        if (uri && !/^file:\/\/\//i.test(root)) ctx.addIssue({ code: 'custom', path: ['mcpServers', name, 'roots', i], message: 'a root is a directory: a path or a file:/// URI' });
        else if (!uri && !('command' in server) && !root.startsWith('/')) {
          ctx.addIssue({ code: 'custom', path: ['mcpServers', name, 'roots', i], message: "a remote upstream's roots are on its own machine: give them as absolute paths" });
        }
      });
    }
    // Prefixed names must say which server they belong to: with servers `a` and `a_`, `a___x` is both
    // `a` + `__` + `_x` and `a_` + `__` + `x`.
    if (cfg.naming.prefix === 'never') return;
    for (const a of names) {
      for (const b of names) {
        if (a !== b && `${b}${sep}`.startsWith(`${a}${sep}`)) {
          ctx.addIssue({ code: 'custom', path: ['mcpServers', b], message: `servers "${a}" and "${b}" give ambiguous tool names ("${b}${sep}x" could be either's); rename one` });
        }
      }
    }
  });

export type WardenConfig = z.infer<typeof ConfigSchema>;
export type MetricsConfig = z.infer<typeof MetricsSchema>;
