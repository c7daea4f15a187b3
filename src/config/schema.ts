/**
 * The config schema. The `mcpServers` block takes the shape desktop apps and IDEs already use, so users can
 * paste theirs; everything else has a safe default. Unknown keys are errors: a typo in a security config
 * must not be silently ignored.
 */
import { z } from 'zod';
import { agentIssuerProblems } from './agent-issuers.js';
import { LimitsSchema } from './limits.js';

const SERVER_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

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

/** Asymmetric JWS algorithms only: `none` and HMAC are never accepted from an issuer with public keys. */
export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const IssuerSchema = z
  .strictObject({
    issuer: z.string().min(1),
    /** Where the issuer publishes its keys; fetched, cached, and refetched (rate-limited) on an unknown kid. */
    jwksUri: z.url({ protocol: /^https?$/ }).optional(),
    /** A local JWKS file instead of jwksUri. */
    jwksFile: z.string().min(1).optional(),
    algorithms: z.array(z.enum(ASYMMETRIC_ALGS)).min(1).default([...ASYMMETRIC_ALGS]),
    /** The claim naming the tenant, if the issuer puts one in its tokens. */
    tenantClaim: z.string().min(1).default('tenant'),
    /** Accept this issuer's tokens without a `typ` header. Default false: a token must say it is an access token (`at+jwt` or `JWT`). */
    allowUntypedTokens: z.boolean().default(false),
  })
  .refine((i) => (i.jwksUri === undefined) !== (i.jwksFile === undefined), { message: 'give exactly one of jwksUri or jwksFile' });

export const SpiffeSchema = z.strictObject({
  trustDomain: z.string().regex(/^[a-z0-9._-]+$/, 'a SPIFFE trust domain, e.g. example.org'),
  /** The trust bundle: a JWKS whose keys carry use "jwt-svid" (and "x509-svid" with x5c for mTLS). */
  bundleFile: z.string().min(1),
});

export const OAuthAuthSchema = z.strictObject({
  mode: z.literal('oauth').default('oauth'),
  issuers: z.array(IssuerSchema).default([]),
  spiffe: SpiffeSchema.optional(),
  /** Scopes every request needs; announced in the 401 challenge. */
  requiredScopes: z.array(z.string().min(1)).default([]),
  clockSkewSeconds: z.number().int().min(0).max(300).default(60),
  maxTokenBytes: z.number().int().min(512).max(65536).default(16384),
});

export const TlsSchema = z.strictObject({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /** CA bundle for client certificates (X.509-SVIDs); with it, client certificates are required. */
  clientCaFile: z.string().min(1).optional(),
});

export const AgentSchema = z.strictObject({
  description: z.string().optional(),
  /**
   * The only issuer whose tokens may act as this agent: one of auth.issuers, or spiffe://<trustDomain>.
   * Default: a SPIFFE ID's trust domain, else the one OAuth issuer (required when several are trusted).
   */
  issuer: z.string().min(1).optional(),
  /** The human responsible for this agent. */
  owner: z.string().min(1).optional(),
  tenant: z.string().min(1).optional(),
  /** Groups the agent belongs to; policies read them as `principal in Group::"..."` and `principal.groups`. */
  groups: z.array(z.string().min(1)).default([]),
  /** Agents allowed to delegate to this one in a token exchange. */
  delegatesFrom: z.array(z.string().min(1)).default([]),
});

export const TokenServiceSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** The `iss` of gateway tokens; defaults to the origin of publicUrl. */
  issuer: z.string().min(1).optional(),
  defaultTtlSeconds: z.number().int().positive().default(300),
  maxTtlSeconds: z.number().int().positive().default(3600),
  maxDelegationDepth: z.number().int().min(0).max(16).default(3),
  algorithm: z.enum(['ES256', 'EdDSA']).default('ES256'),
  /** A signing key is replaced after this long; the old one stays published until its tokens expire. */
  keyRotationHours: z.number().positive().default(24 * 7),
});

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

/** The secrets vault. The master key is never in the config: it comes from WARDEN_MASTER_KEY or a key file. */
export const VaultSchema = z.strictObject({
  /** A file holding the master key (hex, base64 or 32 raw bytes), relative to the config file; else WARDEN_MASTER_KEY. */
  masterKeyFile: z.string().min(1).optional(),
  /** Keys being rotated away from, still accepted for reading rows they wrapped (see `warden secret rotate-master`). */
  previousKeyFiles: z.array(z.string().min(1)).default([]),
});

/** Cedar policies; without any, every request is denied (deny by default). */
export const PolicySchema = z.strictObject({
  /** Policy files or directories of `*.cedar` files, relative to the config file. */
  files: z.array(z.string().min(1)).default([]),
  /** Call arguments policies may read, as `name: CedarType` (replaces the default set; see docs/policy.md). */
  arguments: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an argument name Cedar can address'), z.string().min(1)).optional(),
  /** Arguments holding file paths, normalised before the decision and when forwarded. */
  pathArguments: z.array(z.string().min(1)).optional(),
  /** Reload when a policy file changes. */
  watch: z.boolean().default(true),
});

/** Credentials issued per task (`${lease:NAME}` in an upstream's env, args, url or headers). */
export const LeaseSchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('postgres'),
    /** The environment variable holding the admin connection string that creates and drops the roles. */
    adminUrlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('WARDEN_LEASE_PG_URL'),
    /** Privileges of each task's role, each run as `GRANT <grant> TO <role>`, e.g. `SELECT ON ALL TABLES IN SCHEMA public`. */
    grants: z.array(z.string().min(1)).default([]),
  }),
  z.strictObject({
    provider: z.literal('oauth-exchange'),
    /** The downstream authorization server's token endpoint (RFC 8693 token exchange). */
    tokenUrl: z.url({ protocol: /^https?$/ }),
    clientId: z.string().min(1),
    /** The environment variable holding the gateway's client secret at that server. */
    clientSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('WARDEN_LEASE_CLIENT_SECRET'),
    audience: z.string().min(1).optional(),
    resource: z.string().min(1).optional(),
    scope: z.string().min(1).optional(),
    /** RFC 7009 revocation endpoint: the token is revoked there when the task ends. */
    revocationUrl: z.url({ protocol: /^https?$/ }).optional(),
  }),
]);

/** Human approval of calls a policy marks `@approval`. */
export const ApprovalsSchema = z.strictObject({
  /**
   * How long a call waits for a decision before it is answered `approval_pending`. Below the official SDK's
   * default request timeout (60 s), so a client that sends no progress token still sees the approval id.
   */
  holdSeconds: z.number().min(0).max(3600).default(45),
  /** While a call is held, a client that sent a progress token gets `notifications/progress` this often. */
  progressSeconds: z.number().min(1).max(60).default(5),
  /** How long a request, and an approval given for it, stays valid (a retried call can use it until then). */
  ttlSeconds: z.number().positive().max(7 * 86400).default(600),
  /** Identities allowed to approve (`warden approvals approve --as NAME`). */
  approvers: z.array(z.string().min(1)).default([]),
  /** The user an agent acts for may not approve that agent's calls. */
  separationOfDuties: z.boolean().default(false),
  /** A signed POST (the audit webhook's HMAC scheme) for each new request. The secret comes from the environment variable named here. */
  webhook: z
    .strictObject({
      url: z.url({ protocol: /^https?$/ }),
      secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('WARDEN_APPROVAL_WEBHOOK_SECRET'),
      timeoutMs: z.number().int().positive().max(60_000).default(5000),
      headers: z.record(z.string(), z.string()).default({}),
    })
    .optional(),
  /** Decisions by a signed POST to `/approvals/<id>/decision`. The secret comes from the environment variable named here. */
  callback: z
    .strictObject({
      enabled: z.boolean().default(false),
      secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('WARDEN_APPROVAL_CALLBACK_SECRET'),
      toleranceSeconds: z.number().int().min(1).max(3600).default(300),
    })
    .optional(),
  /**
   * A web page per request at `/approvals/<id>` where an approver signs in (OpenID Connect, authorization
   * code with PKCE) and decides. The secret (at least 32 bytes, the same on every replica) keys the page's
   * cookies and the `requestState` of in-protocol prompts.
   */
  page: z
    .strictObject({
      secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('WARDEN_APPROVAL_PAGE_SECRET'),
      /** How long an approver stays signed in to the page. */
      sessionMinutes: z.number().int().min(1).max(720).default(15),
      signIn: z.strictObject({
        issuer: z.url({ protocol: /^https?$/ }),
        clientId: z.string().min(1),
        /** Set for a confidential client (client_secret_basic); unset for a public one (PKCE only). */
        clientSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
        /** The ID token claim that names the approver, compared with `approvals.approvers`. */
        claim: z.string().min(1).default('sub'),
        scope: z.string().min(1).default('openid'),
      }),
    })
    .optional(),
  /**
   * `url`: a held call asks the person at the client in the protocol, with a link to the approval page
   * (URL elicitation on 2025-11-25 sessions, an input-required result on 2026-07-28), where the client
   * declared URL elicitation. Needs `page`.
   */
  prompt: z.enum(['none', 'url']).default('none'),
}).refine((a) => a.prompt === 'none' || a.page !== undefined, { message: 'approvals.prompt "url" needs approvals.page (the page the prompt links to)', path: ['prompt'] });

/** The admin HTTP API under /admin/ (src/admin/): needs auth in oauth mode. Scopes a token needs to decide approvals, and to revoke and end tasks. */
export const AdminSchema = z.strictObject({
  enabled: z.boolean().default(false),
  approverScope: z.string().min(1).default('warden:approve'),
  adminScope: z.string().min(1).default('warden:admin'),
});

/**
 * The governance console under /console/ (src/console/): people sign in with OpenID Connect and get the
 * roles their name or groups are listed under. `viewer` reads everything but secret values; `approver` also
 * decides approvals (and must be in approvals.approvers); `admin` also revokes, ends tasks and replays
 * candidate policies. An entry `group:NAME` matches a group in `signIn.groupsClaim`; any other entry matches
 * the name claim.
 */
export const ConsoleSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Keys the console's cookies and CSRF tokens: at least 32 bytes, the same on every replica. */
    secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('WARDEN_CONSOLE_SECRET'),
    sessionMinutes: z.number().int().min(1).max(720).default(30),
    signIn: z
      .strictObject({
        issuer: z.url({ protocol: /^https?$/ }),
        clientId: z.string().min(1),
        clientSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
        claim: z.string().min(1).default('sub'),
        /** The ID token claim listing the person's groups (for `group:NAME` role entries). */
        groupsClaim: z.string().min(1).optional(),
        scope: z.string().min(1).default('openid'),
      })
      .optional(),
    roles: z
      .strictObject({
        viewer: z.array(z.string().min(1)).default([]),
        approver: z.array(z.string().min(1)).default([]),
        admin: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
  })
  .refine((c) => !c.enabled || c.signIn !== undefined, { message: 'console.enabled needs console.signIn (the OpenID provider people sign in with)', path: ['signIn'] });

/**
 * How each replica keeps its in-memory revocation list current (see src/revocation/). A replica that has not
 * confirmed its list current for maxStalenessSeconds refuses every request (fail closed) until it has.
 */
export const RevocationSchema = z
  .strictObject({
    /** The longest a replica serves on a revocation list it has not confirmed current. */
    maxStalenessSeconds: z.number().positive().max(3600).default(5),
    /** How often the list is re-read (SQLite: the only channel; PostgreSQL: a heartbeat beside LISTEN). */
    pollMs: z.number().int().min(10).max(600_000).default(500),
  })
  .refine((r) => r.pollMs * 2 <= r.maxStalenessSeconds * 1000, {
    message: 'pollMs must be at most half of maxStalenessSeconds, or requests would be refused between two reads',
  });

/** Tool integrity checks (docs/integrity.md): what the poisoning checks allow, and result scanning. */
export const IntegritySchema = z.strictObject({
  /** A description (of a tool, prompt or one property) longer than this is flagged `outsized-description`. */
  maxDescriptionChars: z.number().int().min(100).max(1_000_000).default(4000),
  /** Hosts a URL in a definition may name (a host and its subdomains); an upstream's own URL host is always allowed. */
  allowedHosts: z.array(z.string().min(1).transform((h) => h.toLowerCase())).default([]),
  /** Scan tool results for the same markers; findings are audited and taint the task (`context.taint`). */
  scanResults: z.boolean().default(false),
  /** How often a replica re-reads the pins (decisions made by another replica or the CLI). */
  refreshMs: z.number().int().min(50).max(600_000).default(2000),
});

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

export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type HttpServerConfig = z.infer<typeof HttpServerSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type WardenConfig = z.infer<typeof ConfigSchema>;
export type OAuthAuthConfig = z.infer<typeof OAuthAuthSchema>;
export type IssuerConfig = z.infer<typeof IssuerSchema>;
export type AgentConfig = z.infer<typeof AgentSchema>;
export type TokenServiceConfig = z.infer<typeof TokenServiceSchema>;
export type AuditConfig = z.infer<typeof AuditSchema>;
export type MetricsConfig = z.infer<typeof MetricsSchema>;
export type VaultConfig = z.infer<typeof VaultSchema>;
export type PolicyConfig = z.infer<typeof PolicySchema>;
export type ConsoleConfig = z.infer<typeof ConsoleSchema>;
export type LeaseConfig = z.infer<typeof LeaseSchema>;
export type ToolClassConfig = z.infer<typeof ToolClassSchema>;

export const isStdioServer = (s: ServerConfig): s is StdioServerConfig => 'command' in s;
