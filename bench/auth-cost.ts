// Authentication cost per request, measured in-process on the gateway's own authenticator: the
// unauthenticated path, a token seen before (the verified-token cache), and a first verification (ES256
// signature with the issuer's keys already loaded). In-process, because tens of microseconds disappear in
// the noise of an HTTP round trip on this machine.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { NoAuthenticator, OAuthAuthenticator } from '../src/identity/index.js';
import { stats, type LatencyStats } from './load.js';

export interface AuthCost {
  unauthenticatedUs: LatencyStats;
  cachedTokenUs: LatencyStats;
  firstVerificationUs: LatencyStats;
  /** cached minus unauthenticated, p50: what an authenticated request adds once its token was seen. */
  addedP50Us: number;
}

const AUDIENCE = 'http://127.0.0.1:7400/mcp';

async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<LatencyStats> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    us.push((performance.now() - t) * 1000);
  }
  // stats() reports in the unit it is given; these samples are microseconds.
  return stats(us);
}

export async function measureAuthCost(): Promise<AuthCost> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-auth-'));
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  const auth = new OAuthAuthenticator({
    config: { mode: 'oauth', issuers: [{ issuer: 'https://idp.bench', jwksFile: 'jwks.json', algorithms: ['ES256'], tenantClaim: 'tenant', allowUntypedTokens: false }], requiredScopes: ['mcp'], clockSkewSeconds: 60, maxTokenBytes: 16384 },
    audience: AUDIENCE,
    agents: {},
    baseDir: dir,
  });
  const sign = (i: number) =>
    new SignJWT({ scope: 'mcp', client_id: `agent-${i}` })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer('https://idp.bench')
      .setSubject(`user-${i}`)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti(`j-${i}`)
      .sign(privateKey);
  const none = new NoAuthenticator();
  const fresh = await Promise.all(Array.from({ length: 2000 }, (_, i) => sign(i)));
  const seen = await sign(999_999);
  await auth.authenticate({ authorization: `Bearer ${seen}` });
  // Warm up the JIT on both paths before measuring.
  await time(2000, () => none.authenticate());
  await time(2000, () => auth.authenticate({ authorization: `Bearer ${seen}` }));
  const unauthenticatedUs = await time(20_000, () => none.authenticate());
  const cachedTokenUs = await time(20_000, () => auth.authenticate({ authorization: `Bearer ${seen}` }));
  const firstVerificationUs = await time(fresh.length, (i) => auth.authenticate({ authorization: `Bearer ${fresh[i]}` }));
  return { unauthenticatedUs, cachedTokenUs, firstVerificationUs, addedP50Us: Math.round((cachedTokenUs.p50Ms - unauthenticatedUs.p50Ms) * 10) / 10 };
}
