/**
 * The config schema. The `mcpServers` block takes the shape desktop apps and IDEs already use, so users can
 * paste theirs; everything else has a safe default. Unknown keys are errors: a typo in a security config
 * must not be silently ignored.
 */
import { z } from 'zod';

const SERVER_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const common = {
  /** Desktop-app configs carry these; `type` is checked against the transport, `disabled` skips the server. */
  type: z.enum(['stdio', 'http', 'streamable-http', 'sse']).optional(),
  disabled: z.boolean().optional(),
  /** Per-call timeout for this upstream, overriding limits.callTimeoutMs. */
  timeoutMs: z.number().int().positive().optional(),
};

export const StdioServerSchema = z.strictObject({
  ...common,
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
});

export const HttpServerSchema = z.strictObject({
  ...common,
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  /** `sse` selects the legacy HTTP+SSE transport (2024-11-05); the default is Streamable HTTP. */
  transport: z.enum(['streamable-http', 'sse']).optional(),
});

export const ServerSchema = z.union([StdioServerSchema, HttpServerSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'an upstream needs either "command" (stdio) or "url" (Streamable HTTP or SSE)' : undefined),
});

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7400');

export const ConfigSchema = z
  .strictObject({
    listen: hostPort.default('127.0.0.1:7400'),
    /** The gateway's public MCP URL; defaults to http://<listen>/mcp. */
    publicUrl: z.url().optional(),
    /** SQLite file path (relative to the config file) or a postgres:// URL. */
    store: z.string().min(1).default('.warden/warden.db'),
    /** Identity arrives in its own issue; until then only development mode exists, and only on loopback. */
    auth: z.strictObject({ mode: z.literal('none') }).optional(),
    /** Extra Host header values accepted besides the listen address (DNS-rebinding guard). */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Origins accepted on browser requests besides the gateway's own. */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    limits: z
      .strictObject({
        maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
        callTimeoutMs: z.number().int().positive().default(60_000),
        sessionIdleMs: z.number().int().positive().default(30 * 60_000),
        maxSessions: z.number().int().positive().default(1_000),
      })
      .prefault({}),
    naming: z
      .strictObject({
        separator: z.string().regex(/^[a-zA-Z0-9_-]{1,8}$/, 'must be 1-8 of [a-zA-Z0-9_-]').default('__'),
        prefix: z.enum(['auto', 'always', 'never']).default('auto'),
      })
      .prefault({}),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
    mcpServers: z.record(z.string().regex(SERVER_NAME, 'server names must be 1-64 of [a-zA-Z0-9_-]'), ServerSchema),
  })
  .superRefine((cfg, ctx) => {
    for (const name of Object.keys(cfg.mcpServers)) {
      if (name.includes(cfg.naming.separator)) {
        ctx.addIssue({ code: 'custom', path: ['mcpServers', name], message: `server name must not contain the naming separator "${cfg.naming.separator}"` });
      }
    }
  });

export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type HttpServerConfig = z.infer<typeof HttpServerSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type WardenConfig = z.infer<typeof ConfigSchema>;

export const isStdioServer = (s: ServerConfig): s is StdioServerConfig => 'command' in s;
