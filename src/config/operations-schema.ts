/** The operator's surfaces and the gateway's own upkeep: admin API, console, revocation, tool integrity. */
import { z } from 'zod';

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

export type ConsoleConfig = z.infer<typeof ConsoleSchema>;
