/**
 * Everything `warden demo` needs, made fresh in one folder: the keys of a demo identity provider (alice's
 * tokens) and of a demo SPIFFE trust domain (the agents' JWT-SVIDs), a master key, the starter policy pack
 * with the demo's own narrowing rules, a file to read, and the config. Nothing here is downloaded.
 * This is the one place that decides what the demo's gateway is made of.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { stringify } from 'yaml';
import { installedServerEntry, REFERENCE_SERVERS } from './reference-servers.js';

export const TRUST_DOMAIN = 'demo.test';
export const IDP_ISSUER = 'https://idp.demo.test';
export const PLANNER = `spiffe://${TRUST_DOMAIN}/planner`;
export const WRITER = `spiffe://${TRUST_DOMAIN}/writer`;
export const REPORTS_AUDIENCE = 'https://reports.demo.test';
/** The environment variable the gateway reads the reports authorization server's client secret from. */
export const REPORTS_SECRET_ENV = 'WARDEN_DEMO_REPORTS_CLIENT_SECRET';
export const ALICE_SCOPES = 'mcp files:read files:write reports:read';

const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));

/** The demo's own rules on top of the starter pack. They only narrow: nothing here permits anything. */
const DEMO_POLICY = `// The demo's own rules, next to the starter pack (starter.cedar). Both are forbids: they narrow what the
// starter pack permits, they never widen it.

@id("files-stay-in-folder")
@reason("file paths must stay inside the demo's files/ folder (../ is resolved before the decision)")
forbid (principal, action == Action::"call_tool", resource is Tool)
when {
  resource.server == "files" && context.arguments has path &&
  !(context.arguments.path like "FILES_DIR/*")
};

@id("reports-need-scope")
@reason("reading reports needs the reports:read scope")
forbid (principal is Agent, action == Action::"call_tool", resource is Tool)
when { resource.server == "reports" && !principal.scopes.contains("reports:read") };
`;

export interface Signer {
  sign(claims: JWTPayload, typ: string): Promise<string>;
}

export interface DemoSetup {
  dir: string;
  configFile: string;
  /** Where the filesystem server serves from. */
  filesDir: string;
  /** Signs alice's access tokens (the demo identity provider). */
  idp: Signer;
  /** Signs JWT-SVIDs for the demo trust domain. */
  svids: Signer;
}

async function signer(issuer: string | null, file: string, use: string): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use }] }, null, 2));
  const key: CryptoKey = privateKey;
  return {
    sign: (claims, typ) => {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ iat: now, exp: now + 300, jti: randomUUID(), ...claims }).setProtectedHeader({ alg: 'ES256', kid, typ });
      return (issuer ? jwt.setIssuer(issuer) : jwt).sign(key);
    },
  };
}

/**
 * Writes the demo into `dir` (new or empty). `upstream` is the origin of the demo's own HTTP servers
 * (the reports server, its authorization server, and another tenant's payroll server).
 */
export async function prepareDemo(dir: string, upstream: string): Promise<DemoSetup> {
  const filesDir = join(dir, 'files');
  for (const d of ['keys', 'policies', 'files']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(filesDir, 'draft.md'), '# Weekly report\n\nOrders are up; details to follow.\n');
  copyFileSync(STARTER, join(dir, 'policies', 'starter.cedar'));
  writeFileSync(join(dir, 'policies', 'demo.cedar'), DEMO_POLICY.replace('FILES_DIR', filesDir));
  // The master key that encrypts what the store keeps secret (signing keys, vault secrets), made for this demo only.
  writeFileSync(join(dir, 'keys', 'master.key'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  const idp = await signer(IDP_ISSUER, join(dir, 'keys', 'idp.jwks.json'), 'sig');
  const svids = await signer(null, join(dir, 'keys', 'spiffe-bundle.jwks.json'), 'jwt-svid');
  const filesystem = installedServerEntry(REFERENCE_SERVERS.filesystem);
  if (filesystem === undefined) throw new Error(`${REFERENCE_SERVERS.filesystem} is not installed: run npm install`);
  const labels = { tenant: 'demo', environment: 'prod', trustAnnotations: true } as const;
  const config = {
    listen: '127.0.0.1:0',
    // Relative paths are relative to this file: the demo folder.
    store: 'warden.db',
    auth: {
      issuers: [{ issuer: IDP_ISSUER, jwksFile: 'keys/idp.jwks.json' }],
      spiffe: { trustDomain: TRUST_DOMAIN, bundleFile: 'keys/spiffe-bundle.jwks.json' },
      requiredScopes: ['mcp'],
    },
    agents: {
      [PLANNER]: { tenant: 'demo', owner: 'alice', description: 'plans the work; may start tasks' },
      [WRITER]: { tenant: 'demo', owner: 'alice', description: 'a sub-agent that writes', delegatesFrom: [PLANNER] },
    },
    vault: { masterKeyFile: 'keys/master.key' },
    policy: { files: ['policies'] },
    approvals: { approvers: ['bob'], separationOfDuties: true, holdSeconds: 30 },
    leases: {
      reports: {
        provider: 'oauth-exchange',
        tokenUrl: `${upstream}/oauth/token`,
        revocationUrl: `${upstream}/oauth/revoke`,
        clientId: 'mcp-warden',
        clientSecretEnv: REPORTS_SECRET_ENV,
        audience: REPORTS_AUDIENCE,
        scope: 'reports:read',
      },
    },
    log: { level: 'error' },
    mcpServers: {
      files: { command: process.execPath, args: [filesystem, './files'], ...labels },
      reports: { url: `${upstream}/reports/mcp`, headers: { Authorization: 'Bearer ${lease:reports}' }, ...labels },
      payroll: { url: `${upstream}/payroll/mcp`, tenant: 'globex', environment: 'prod', trustAnnotations: true },
    },
  };
  const configFile = join(dir, 'warden.yaml');
  writeFileSync(configFile, `# Written by \`warden demo\`; its servers lived only while the demo ran.\n${stringify(config)}`);
  return { dir, configFile, filesDir, idp, svids };
}
