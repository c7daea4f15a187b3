/**
 * A real OpenID provider (oidc-provider v9) in the test process on 127.0.0.1: JWT access tokens (RFC 9068,
 * ES256) audience-bound to one resource (RFC 8707), a confidential agent client (client credentials,
 * client_secret_basic), a public user-facing app (authorization code with PKCE S256) and the approval page's
 * sign-in clients (ID tokens; public and confidential), login and consent through the provider's development
 * interactions, driven with fetch and a cookie jar. Its keys can be
 * rotated while it runs, and every fetch of its JWKS is counted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { errors, Provider } from 'oidc-provider';

export const AGENT_CLIENT = { id: 'agent-cc', secret: 'agent-cc-secret-0123456789abcdef' };
export const APP_CLIENT = { id: 'app-web', redirectUri: 'http://127.0.0.1:9/callback' };
export const RESOURCE_SCOPES = 'mcp:tools files:read';
/**
 * The approval page's sign-in (src/ingress/approver-signin.ts): native clients, so the provider accepts their
 * loopback redirect URI on any port (RFC 8252 7.3), as the gateway's port is chosen when a test starts.
 */
export const PAGE_CLIENT = { id: 'warden-approvals', redirectUri: 'http://127.0.0.1/approvals/callback' };
/** The console's sign-in (src/console/server.ts): a native client, as the approval page's. */
export const CONSOLE_CLIENT = { id: 'warden-console', redirectUri: 'http://127.0.0.1/console/callback' };
/**
 * Groups the provider puts in ID tokens (claim `groups`, scope `groups`) for the console's role tests;
 * anyone else has none.
 */
export const TEST_GROUPS: Readonly<Record<string, readonly string[]>> = { 'sec-lead': ['security'], 'audit-bot': ['auditors'] };
export const PAGE_CONFIDENTIAL_CLIENT = { id: 'warden-approvals-confidential', secret: 'page-client-secret-0123456789abcdef', redirectUri: 'http://127.0.0.1/approvals/callback' };

export interface TestOidcProvider {
  issuer: string;
  jwksUri: string;
  /** How many times the JWKS endpoint was fetched so far. */
  jwksFetches(): number;
  /** The kid the provider signs with now. */
  currentKid(): string;
  /** Replaces the signing key by a new one (new kid); the old one stays published. Returns the new kid. */
  rotate(): Promise<string>;
  clientCredentials(scope?: string, resource?: string): Promise<string>;
  /** Logs `user` in at the app through the browser flow (authorization code + PKCE S256); returns the access token. */
  authorizationCode(user: string, scope?: string): Promise<string>;
  close(): Promise<void>;
}

async function signingKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
}

function configuration(resource: () => string, keys: JWK[]): Record<string, unknown> {
  return {
    clients: [
      {
        client_id: AGENT_CLIENT.id,
        client_secret: AGENT_CLIENT.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: APP_CLIENT.id,
        application_type: 'native',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [APP_CLIENT.redirectUri],
        token_endpoint_auth_method: 'none',
      },
      {
        client_id: PAGE_CLIENT.id,
        application_type: 'native',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [PAGE_CLIENT.redirectUri],
        token_endpoint_auth_method: 'none',
      },
      {
        client_id: CONSOLE_CLIENT.id,
        application_type: 'native',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [CONSOLE_CLIENT.redirectUri],
        token_endpoint_auth_method: 'none',
      },
      {
        client_id: PAGE_CONFIDENTIAL_CLIENT.id,
        client_secret: PAGE_CONFIDENTIAL_CLIENT.secret,
        application_type: 'native',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [PAGE_CONFIDENTIAL_CLIENT.redirectUri],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    cookies: { keys: ['oidc-test-cookie-key-0123456789'] },
    findAccount: (_ctx: unknown, id: string) => Promise.resolve({ accountId: id, claims: () => Promise.resolve({ sub: id, groups: [...(TEST_GROUPS[id] ?? [])] }) }),
    // The `groups` scope puts the groups in the ID token itself (not only at the userinfo endpoint).
    claims: { openid: ['sub'], groups: ['groups'] },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: { AccessToken: 300, ClientCredentials: 300, AuthorizationCode: 60, Grant: 600, Interaction: 600, Session: 600, IdToken: 300 },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource(),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== resource()) throw new errors.InvalidTarget();
          return { scope: RESOURCE_SCOPES, audience: resource(), accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
  };
}

/**
 * A minimal cookie jar: name -> value, hosts and paths ignored (every server in a test is on 127.0.0.1, where a
 * browser too shares cookies across ports, and the provider's and the gateway's cookie names are distinct).
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()) || attrs.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * Goes where a browser would from `url`, following redirects and submitting the provider's login (as `user`)
 * and consent forms, until a redirect points to a URL `stop` accepts (a client's redirect URI); returns it.
 * Cookies of every hop are kept in `jar`.
 */
export async function followLogin(url: string, user: string, jar: CookieJar, stop: (next: URL) => boolean): Promise<URL> {
  for (let step = 0; step < 12; step++) {
    let res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() }, signal: AbortSignal.timeout(5000) });
    jar.store(res);
    if (res.status === 200) {
      // A login or consent page: submit its form the way a browser would.
      const html = await res.text();
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      if (!prompt || !action) throw new Error(`unexpected page at ${url}: ${html.slice(0, 500)}`);
      const form: Record<string, string> = prompt === 'login' ? { prompt, login: user, password: 'any' } : { prompt };
      res = await fetch(new URL(action.replace(/&amp;/g, '&'), url), {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(5000),
      });
      jar.store(res);
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) throw new Error(`authorization flow stopped at ${url}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    const next = new URL(location, url);
    if (stop(next)) return next;
    url = next.href;
  }
  throw new Error('the authorization flow did not reach the redirect URI');
}

/**
 * `resource`: the gateway's URL tokens are for, or a function giving it once the gateway listens (it is
 * started after the provider, on an ephemeral port).
 */
export async function startOidcProvider(resourceOf: string | (() => string)): Promise<TestOidcProvider> {
  const resource = typeof resourceOf === 'function' ? resourceOf : () => resourceOf;
  let fetches = 0;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === '/jwks') fetches++;
    if (!handler) return void res.writeHead(503).end();
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keys: JWK[] = [await signingKey('op-k1')];
  const install = () => {
    // A new instance with the new key first: it signs with the first matching key and publishes all of them.
    handler = new Provider(issuer, configuration(resource, keys)).callback();
  };
  install();

  const tokenEndpoint = async (form: Record<string, string>, headers: Record<string, string> = {}): Promise<string> => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200 || typeof body.access_token !== 'string') throw new Error(`token endpoint ${res.status}: ${JSON.stringify(body)}`);
    return body.access_token;
  };

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    jwksFetches: () => fetches,
    currentKid: () => String(keys[0]!.kid),
    rotate: async () => {
      keys.unshift(await signingKey(`op-k${keys.length + 1}`));
      install();
      return String(keys[0]!.kid);
    },
    clientCredentials: (scope = 'mcp:tools', res = resource()) =>
      tokenEndpoint(
        { grant_type: 'client_credentials', resource: res, scope },
        { authorization: `Basic ${Buffer.from(`${AGENT_CLIENT.id}:${AGENT_CLIENT.secret}`).toString('base64')}` },
      ),
    authorizationCode: async (user, scope = `openid ${RESOURCE_SCOPES}`) => {
      const verifier = randomBytes(32).toString('base64url');
      const state = randomBytes(8).toString('hex');
      const auth = new URL('/auth', issuer);
      auth.search = new URLSearchParams({
        client_id: APP_CLIENT.id,
        response_type: 'code',
        redirect_uri: APP_CLIENT.redirectUri,
        scope,
        resource: resource(),
        state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      const next = await followLogin(auth.href, user, new CookieJar(), (u) => u.href.startsWith(APP_CLIENT.redirectUri));
      if (next.searchParams.get('state') !== state) throw new Error('state mismatch');
      const code = next.searchParams.get('code');
      if (!code) throw new Error(`no code: ${next.search}`);
      return tokenEndpoint({ grant_type: 'authorization_code', code, redirect_uri: APP_CLIENT.redirectUri, code_verifier: verifier, client_id: APP_CLIENT.id, resource: resource() });
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
