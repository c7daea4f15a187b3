/**
 * Wires per-user upstream OAuth (docs/user-oauth.md) into a running gateway: the vault it keeps tokens in,
 * the Connections page's sign-in (the approval page's), audit events, and the sweep that revokes and deletes
 * the tokens of users revoked with `warden revoke user` (on any replica: it reads the shared store).
 */
import { ConfigError, type ServerConfig, type WardenConfig } from '../config/index.js';
import type { AuditRecorder } from '../audit/index.js';
import { loadMasterKeys, type KeySources } from '../credentials/key-source.js';
import type { InjectedSecret, Redactor } from '../credentials/redactor.js';
import { UserKeys, UserOAuth, type OAuthEvent } from '../credentials/index.js';
import type { SubjectSigner } from '../credentials/leases/manager.js';
import { Vault } from '../credentials/vault.js';
import type { RevocationList } from '../revocation/index.js';
import type { Store } from '../store/index.js';
import type { Logger } from '../telemetry/log.js';

const SWEEP_MS = 2_000;

/** The upstreams with `auth` (`oauth` or `userKey`): each person's own credential. */
export const oauthUpstreams = (servers: ReadonlyMap<string, ServerConfig>): string[] => [...servers].filter(([, s]) => 'url' in s && s.auth !== undefined).map(([n]) => n);

/** Refuses a config whose OAuth upstreams cannot work: the Connections page needs the approval page's sign-in and secret. */
export function checkUserOAuthConfig(config: WardenConfig, names: string[], pageSecret: string | undefined, source = 'config'): void {
  if (names.length === 0) return;
  const at = names.map((n) => `mcpServers.${n}.auth`).join(', ');
  if (!config.approvals.page) throw new ConfigError(`invalid config ${source}:\n  - ${at}: people connect their accounts on the Connections page, which signs them in with approvals.page.signIn: configure approvals.page`);
  if (pageSecret === undefined) throw new ConfigError(`invalid config ${source}:\n  - ${at}: the Connections page needs the approval page secret (approvals.page.secretEnv)`);
}

/** The vault for tokens: the one already open, or one opened now (a master key is required). */
export async function tokenVault(existing: Vault | undefined, store: Store, keys: KeySources, names: string[], source = 'config'): Promise<Vault> {
  if (existing) return existing;
  try {
    const { current, previous } = loadMasterKeys(keys);
    try {
      return await Vault.open(store.secrets, { current, previous });
    } finally {
      [current, ...previous].forEach((k) => k.fill(0));
    }
  } catch (err) {
    throw new ConfigError(`invalid config ${source}:\n  - ${names.map((n) => `mcpServers.${n}.auth.oauth`).join(', ')}: user tokens are kept in the vault, which cannot be opened: ${(err as Error).message}`);
  }
}

export interface UserOAuthDeps {
  vault: Vault;
  servers: ReadonlyMap<string, ServerConfig>;
  publicUrl: () => string;
  audit: AuditRecorder;
  redactor: Redactor;
  revocations: RevocationList;
  store: Store;
  log: Logger;
  /** Signs the subject tokens of the enterprise variant (ID-JAG). */
  signSubject?: SubjectSigner;
}

/** Every step as an audit event: the user, the upstream, the connection id (target); never a token. */
function recordEvent(audit: AuditRecorder, e: OAuthEvent): Promise<void> {
  return audit
    .record({
      startedAt: Date.now(),
      agent: null,
      user: e.user,
      tenant: e.tenant,
      chain: [],
      authMethod: null,
      task: null,
      sessionId: null,
      protocolVersion: null,
      // Self-service keys: userkey/use, userkey/set, userkey/removed, userkey/expiring.
      method: e.connectionId?.startsWith('key:') ? `userkey/${e.kind.replace(/^key-/, '')}` : `oauth/${e.kind}`,
      upstream: e.upstream,
      target: e.connectionId,
      argsDigest: null,
      outcome: e.errorCode === undefined ? 'ok' : 'error',
      errorCode: e.errorCode ?? null,
    })
    .then(() => undefined);
}

/** The running service and its sweep of revoked users; `stop` ends the sweep. */
export function startUserOAuth(d: UserOAuthDeps): { oauth: UserOAuth; keys: UserKeys; stop: () => void } {
  const common = {
    vault: d.vault,
    servers: () => d.servers,
    publicUrl: d.publicUrl,
    log: d.log,
    onEvent: (e: OAuthEvent) => recordEvent(d.audit, e),
    redact: (secrets: InjectedSecret[]) => d.redactor.add(secrets),
    allowed: (user: string) => d.revocations.get('user', user) === undefined,
  };
  const oauth = new UserOAuth({ ...common, ...(d.signSubject ? { signSubject: d.signSubject } : {}) });
  const keys = new UserKeys(common);
  const swept = new Set<string>();
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      for (const r of await d.store.revocations.list({ kind: 'user', inForceAt: new Date().toISOString(), limit: 10_000 })) {
        if (swept.has(r.id)) continue;
        const gone = [...(await oauth.disconnectAll(r.value)), ...(await keys.removeAll(r.value))];
        if (gone.length > 0) d.log.info({ user: r.value, upstreams: gone }, 'revoked user: upstream tokens revoked and deleted');
        swept.add(r.id);
      }
    } catch (err) {
      d.log.warn({ reason: (err as Error).message }, 'revoked users: upstream token sweep failed; retried');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void sweep(), SWEEP_MS);
  timer.unref();
  return { oauth, keys, stop: () => clearInterval(timer) };
}
