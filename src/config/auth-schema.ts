/** How clients and agents authenticate: token issuers, SPIFFE, TLS, registered agents and the token service. */
import { z } from 'zod';

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

export type OAuthAuthConfig = z.infer<typeof OAuthAuthSchema>;
export type IssuerConfig = z.infer<typeof IssuerSchema>;
export type AgentConfig = z.infer<typeof AgentSchema>;
export type TokenServiceConfig = z.infer<typeof TokenServiceSchema>;
