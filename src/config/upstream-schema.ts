/**
 * The `mcpServers` block: one upstream MCP server, stdio or HTTP. It takes the shape desktop apps and IDEs
 * already use, so users can paste theirs.
 */
import { z } from 'zod';

/** A tool's classification, or an operator's override of part of it. */
export const ToolClassSchema = z.strictObject({
  access: z.enum(['read', 'write', 'execute']).optional(),
  destructive: z.boolean().optional(),
  openWorld: z.boolean().optional(),
  risk: z.enum(['low', 'medium', 'high', 'critical']).optional(),
  dataClasses: z.array(z.string().min(1)).optional(),
});

const common = {
  /** Desktop-app configs carry these; `type` is checked against the transport, `disabled` skips the server. */
  type: z.enum(['stdio', 'http', 'streamable-http', 'sse']).optional(),
  disabled: z.boolean().optional(),
  /** Per-call timeout for this upstream, overriding limits.callTimeoutMs. */
  timeoutMs: z.number().int().positive().optional(),
  /** Where the server's effects land; policies read it as `resource.environment`. Unset counts as prod. */
  environment: z.enum(['prod', 'staging', 'dev', 'sandbox']).optional(),
  /** The tenant the server belongs to; unset: shared (policies see no `resource.tenant`). */
  tenant: z.string().min(1).optional(),
  /** Believe the server's MCP tool annotations (readOnlyHint, destructiveHint, openWorldHint). Unset: every tool counts as write, destructive, high risk. */
  trustAnnotations: z.boolean().optional(),
  /** Data classes of everything the server serves (e.g. pii, secrets). */
  dataClasses: z.array(z.string().min(1)).optional(),
  /** Classification overrides by tool name glob (`*` any run, `?` one character), applied in order over annotations. */
  tools: z.record(z.string().min(1), ToolClassSchema).optional(),
  /** Per-user credentials: user -> { shared secret name -> that user's secret name }; their sessions never use the shared one. */
  userSecrets: z.record(z.string().min(1), z.record(z.string().min(1), z.string().min(1))).optional(),
  /**
   * The directories the upstream works in (paths or file:// URIs, relative to the config file): the gateway
   * answers its `roots/list` with them, and resolves relative path arguments against the first. A client's
   * own roots never reach the upstream unless `clientRoots` is set.
   */
  roots: z.array(z.string().min(1)).optional(),
  /** Pass a client's roots on: each one narrowed to the configured `roots` and allowed by policy (action use_root). */
  clientRoots: z.boolean().optional(),
  /**
   * How far one connection (one process, for stdio) is shared: `shared` by everyone, `per-user` by one
   * person's sessions (default), `per-session`, or `per-task`. Leases force per-task; userSecrets turn shared into per-user.
   */
  share: z.enum(['shared', 'per-user', 'per-session', 'per-task']).optional(),
  /** Let this upstream reach the gateway's own files (config, policies, store, keys, audit log); refused otherwise. */
  allowGatewayFiles: z.boolean().optional(),
  /**
   * Tool integrity (docs/integrity.md): `trust-on-first-use` (unset) pins each definition the first time it is
   * seen and quarantines a changed one; `pin` quarantines every definition until an operator approves it;
   * `off` neither pins nor scans.
   */
  integrity: z.enum(['pin', 'trust-on-first-use', 'off']).optional(),
};

export const StdioServerSchema = z.strictObject({
  ...common,
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
});

/**
 * `auth.oauth` of an HTTP upstream: the gateway is an OAuth client of it, per user (docs/user-oauth.md). Each
 * person connects their own account once, in their browser; their calls carry only their token.
 */
export const UpstreamOAuthSchema = z.strictObject({
  /** Scopes asked for; default: the upstream's `scopes_supported` (RFC 9728), else none. */
  scopes: z.array(z.string().min(1)).optional(),
  /** A client registered with the authorization server by hand; default: Client ID Metadata Document or dynamic registration. */
  clientId: z.string().min(1).optional(),
  /** The vault secret holding that client's secret (a confidential client); needs clientId. */
  clientSecret: z.string().min(1).optional(),
  /** An https URL serving this gateway's Client ID Metadata Document, used as client_id where the server supports it. */
  clientMetadataUrl: z.url({ protocol: /^https$/ }).optional(),
  /** A token is refreshed when it has less than this left (seconds). */
  refreshBeforeSeconds: z.number().int().min(0).max(3600).default(60),
  /**
   * Enterprise-managed authorization: the user's identity provider issues ID-JAGs, so no browser step is
   * needed (token exchange there, then a JWT bearer grant at the upstream's authorization server).
   */
  idJag: z
    .strictObject({
      /** The identity provider's token endpoint. */
      tokenUrl: z.url({ protocol: /^https?$/ }),
      /** The gateway's client at the identity provider, and the environment variable holding its secret. */
      clientId: z.string().min(1),
      clientSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
      /** The audience of the subject token the gateway signs; default: the token endpoint's origin. */
      audience: z.string().min(1).optional(),
    })
    .optional(),
});

/**
 * `auth.userKey` of an HTTP upstream that takes an API key or personal access token: each person puts their
 * own into the vault on the Connections page (never through the agent); it goes in `header` for their calls.
 */
export const UpstreamUserKeySchema = z.strictObject({
  /** The header the key is sent in. */
  header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'an HTTP header name').default('Authorization'),
  /** Text before the key in that header (e.g. `Bearer `, `token `); none by default for other headers. */
  prefix: z.string().max(32).regex(/^[^\r\n]*$/).optional(),
  /** The page and the log remind a person this many days before the expiry they gave. */
  remindDays: z.number().int().min(0).max(365).default(7),
});

export const HttpServerSchema = z
  .strictObject({
    ...common,
    url: z.url({ protocol: /^https?$/ }),
    headers: z.record(z.string(), z.string()).default({}),
    /** `sse` selects the legacy HTTP+SSE transport (2024-11-05); the default is Streamable HTTP. */
    transport: z.enum(['streamable-http', 'sse']).optional(),
    /**
     * Which MCP revision to speak: `auto` asks the server (server/discover) and speaks 2026-07-28 where it can,
     * else the 2025-11-25 handshake (the default, auto); `legacy` always the handshake; `modern` only 2026-07-28.
     */
    protocol: z.enum(['auto', 'legacy', 'modern']).optional(),
    /** How the gateway authenticates to this upstream beyond static headers: `oauth`, per user. */
    auth: z
      .strictObject({ oauth: UpstreamOAuthSchema.optional(), userKey: UpstreamUserKeySchema.optional() })
      .refine((a) => (a.oauth === undefined) !== (a.userKey === undefined), { message: 'give exactly one of auth.oauth or auth.userKey' })
      .optional(),
  })
  .refine((s) => s.auth === undefined || (s.transport !== 'sse' && s.type !== 'sse'), { message: 'auth needs the Streamable HTTP transport', path: ['auth'] })
  .refine((s) => s.auth?.oauth?.clientSecret === undefined || s.auth.oauth.clientId !== undefined, { message: 'auth.oauth.clientSecret needs clientId', path: ['auth', 'oauth'] })
  .refine((s) => s.auth === undefined || !Object.keys(s.headers).some((h) => h.toLowerCase() === (s.auth?.userKey?.header ?? 'authorization').toLowerCase()), {
    message: 'auth sets that header itself for each user: remove it from headers',
    path: ['auth'],
  });

export const ServerSchema = z.union([StdioServerSchema, HttpServerSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'an upstream needs either "command" (stdio) or "url" (Streamable HTTP or SSE)' : undefined),
});

export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type HttpServerConfig = z.infer<typeof HttpServerSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type ToolClassConfig = z.infer<typeof ToolClassSchema>;

export const isStdioServer = (s: ServerConfig): s is StdioServerConfig => 'command' in s;
