/** How calls are decided: Cedar policies, and human approval of the calls they mark `@approval`. */
import { z } from 'zod';

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

export type PolicyConfig = z.infer<typeof PolicySchema>;
