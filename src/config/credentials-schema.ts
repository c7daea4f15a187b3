/** Where credentials come from: the secrets vault and the credentials leased per task. */
import { z } from 'zod';

/** The secrets vault. The master key is never in the config: it comes from WARDEN_MASTER_KEY or a key file. */
export const VaultSchema = z.strictObject({
  /** A file holding the master key (hex, base64 or 32 raw bytes), relative to the config file; else WARDEN_MASTER_KEY. */
  masterKeyFile: z.string().min(1).optional(),
  /** Keys being rotated away from, still accepted for reading rows they wrapped (see `warden secret rotate-master`). */
  previousKeyFiles: z.array(z.string().min(1)).default([]),
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

export type VaultConfig = z.infer<typeof VaultSchema>;
export type LeaseConfig = z.infer<typeof LeaseSchema>;
