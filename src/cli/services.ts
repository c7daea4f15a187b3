/** The task and approval services of a config: grants decided by its policy over its servers, state in its store. */
import { randomUUID } from 'node:crypto';
import { ConfigError, type WardenConfig } from '../config/index.js';
import { signJwt, type SignerSource } from '../identity/signer.js';
import type { StartTaskHook } from '../identity/index.js';
import { serverFacts, serverOfExposedName, subjectOf } from '../gateway/index.js';
import type { GatewayPolicy, ServerFacts } from '../policy/index.js';
import { ApprovalService, CallSealer, type ApprovalOptions } from '../approvals/index.js';
import { loadMasterKeys, MASTER_KEY_ENV, MasterKeyMissing, MasterKeyRing, VaultError, type MasterKeys } from '../credentials/index.js';
import { SigningKeys } from '../identity/signing-keys.js';
import { SigningKeyLocked, SigningKeyTampered } from '../identity/sealed-key.js';
import type { AuditDraft, AuditRecorder } from '../audit/index.js';
import type { ApprovalStore, LeaseRecord, Store, TaskRecord, TaskStore } from '../store/types.js';
import { LeaseManager, type SubjectSigner } from '../credentials/leases/manager.js';
import type { Logger } from '../telemetry/log.js';
import { TaskService, type Grant } from '../tasks/index.js';

/** The facts of a config's enabled servers, by name (what task grants are decided on); `into` is refilled in place. */
export function serverFactsOf(config: WardenConfig, into = new Map<string, ServerFacts>()): Map<string, ServerFacts> {
  into.clear();
  for (const [name, server] of Object.entries(config.mcpServers)) if (!server.disabled) into.set(name, serverFacts(name, server));
  return into;
}

/** `servers`: a map a config reload refills (serverFactsOf), so new tasks can be granted the servers in force. */
export function taskServiceFor(
  config: WardenConfig,
  store: TaskStore,
  policy: () => GatewayPolicy,
  onEnd?: (task: TaskRecord) => Promise<void>,
  servers: ReadonlyMap<string, ServerFacts> = serverFactsOf(config),
): TaskService {
  return new TaskService({
    store,
    policy,
    servers,
    serverOfTool: (tool) => serverOfExposedName(tool, [...servers.keys()], config.naming.prefix, config.naming.separator),
    maxTtlSeconds: config.tokenService.maxTtlSeconds,
    ...(onEnd ? { onEnd } : {}),
  });
}

/** What a grant gave and refused, with the policy's reasons: the reason of a task's `task/start` audit event. */
export function grantSummary(task: TaskRecord, grant: Grant): string {
  const refused = grant.refused.map((r) => `${r.item} (${r.reason})`).join(', ');
  return `granted ${[...task.servers, ...task.tools].join(', ')}${refused ? `; refused ${refused}` : ''}`;
}

/** The `task/start` event of a task: who started it, and what policy granted and refused. */
export function taskStartEvent(task: TaskRecord, grant: Grant, chain: readonly string[], authMethod: string, policyVersion?: string): AuditDraft {
  return {
    startedAt: Date.now(),
    agent: task.agent,
    user: task.user,
    tenant: task.tenant,
    chain: [...chain],
    authMethod,
    task: task.id,
    sessionId: null,
    protocolVersion: null,
    method: 'task/start',
    upstream: null,
    target: null,
    argsDigest: null,
    decision: { effect: 'allow', policyIds: [], reason: grantSummary(task, grant), ...(policyVersion ? { policyVersion } : {}) },
    outcome: 'ok',
    errorCode: null,
  };
}

/** Starting tasks from a token exchange (`task_purpose`, `task_servers`, `task_tools`, `task_ttl`), each a `task/start` event. */
export function startTaskHook(config: WardenConfig, tasks: TaskService, audit?: AuditRecorder): StartTaskHook {
  return async (who, ask) => {
    const { task, grant } = await tasks.start(subjectOf(config.agents, who), ask);
    await audit?.record(taskStartEvent(task, grant, who.chain, who.method));
    return { id: task.id, expiresAt: Math.floor(Date.parse(task.expiresAt) / 1000) };
  };
}

/**
 * The approval service of a config; undefined without approvers (calls needing approval are then refused).
 * `sealer` keeps each held call for approvers (the gateway passes one; a CLI that only decides needs none).
 */
export function approvalServiceFor(config: WardenConfig, store: ApprovalStore, onOpened?: ApprovalOptions['onOpened'], sealer?: CallSealer): ApprovalService | undefined {
  const a = config.approvals;
  if (a.approvers.length === 0) return undefined;
  return new ApprovalService({ store, holdMs: a.holdSeconds * 1000, progressEveryMs: a.progressSeconds * 1000, ttlMs: a.ttlSeconds * 1000, approvers: a.approvers, separationOfDuties: a.separationOfDuties, ...(onOpened ? { onOpened } : {}), ...(sealer ? { sealer } : {}) });
}

/**
 * The sealer of held calls: approvers are shown each call in full, and the gateway keeps it encrypted under
 * the vault master key while the request is pending. The gateway needs none without approvers. No key, or a bad one, is
 * a ConfigError when `required` (the gateway does not start: a request approvers cannot see is not opened);
 * otherwise (the CLI) undefined, and readShownCall says why the call cannot be shown.
 */
export function callSealerFor(
  config: WardenConfig,
  baseDir: string,
  required: boolean,
  source = 'config',
  env: NodeJS.ProcessEnv = process.env,
): CallSealer | undefined {
  if (required && config.approvals.approvers.length === 0) return undefined;
  let keys: MasterKeys;
  try {
    keys = loadMasterKeys({ env, masterKeyFile: config.vault.masterKeyFile, previousKeyFiles: config.vault.previousKeyFiles, baseDir });
  } catch (err) {
    if (!(err instanceof VaultError)) throw err;
    if (!required) return undefined;
    const why =
      err instanceof MasterKeyMissing
        ? `no vault master key is configured: set ${MASTER_KEY_ENV} (32 bytes as hex or base64, e.g. from \`openssl rand -base64 32\`) or vault.masterKeyFile`
        : `the vault master key cannot be used: ${err.message}`;
    const what = 'approvers are shown each held call in full, which the gateway keeps encrypted under the vault master key until it is decided';
    throw new ConfigError(`invalid config ${source}:\n  - approvals.approvers: ${what}; ${why}`);
  }
  try {
    return CallSealer.fromKeys(keys);
  } finally {
    [keys.current, ...keys.previous].forEach((k) => k.fill(0));
  }
}

/** How to make a development master key, for the messages that ask for one. */
export const DEV_MASTER_KEY_HINT = 'for development, `warden secret master-key --out .warden/master.key` writes one and prints the vault.masterKeyFile line to add';

/**
 * The gateway's signing keys (gateway tokens, subject tokens, audit checkpoints), whose private parts the
 * store keeps sealed under the vault master key. Every gateway signs checkpoints, so every gateway needs the
 * master key: none, or a bad one, is a ConfigError naming where to put it and how to make one. Keys of a
 * store written before keys were sealed are sealed now (see SigningKeys#prepare); a key no given master key
 * opens stops the start. The caller closes the returned ring.
 */
export async function signingKeysFor(
  config: WardenConfig,
  store: Store,
  baseDir: string,
  log: Logger,
  source = 'config',
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ keys: SigningKeys; ring: MasterKeyRing }> {
  let loaded: MasterKeys;
  try {
    loaded = loadMasterKeys({ env, masterKeyFile: config.vault.masterKeyFile, previousKeyFiles: config.vault.previousKeyFiles, baseDir });
  } catch (err) {
    if (!(err instanceof VaultError)) throw err;
    const why =
      err instanceof MasterKeyMissing
        ? `no vault master key is configured: set ${MASTER_KEY_ENV} (32 bytes as hex or base64, e.g. from \`openssl rand -base64 32\`) or vault.masterKeyFile; ${DEV_MASTER_KEY_HINT}`
        : `the vault master key cannot be used: ${err.message}`;
    const what = 'the gateway signs its tokens and audit checkpoints with keys the store keeps sealed under the vault master key';
    throw new ConfigError(`invalid config ${source}:\n  - vault: ${what}; ${why}`);
  }
  const ring = MasterKeyRing.from(loaded);
  [loaded.current, ...loaded.previous].forEach((k) => k.fill(0));
  const ts = config.tokenService;
  // A retired key stays published until every token it signed has expired, plus the largest skew allowed (300 s).
  const keys = new SigningKeys(store.keys, ring, ts.algorithm, ts.keyRotationHours * 3600_000, (ts.maxTtlSeconds + 300) * 1000);
  try {
    const { sealed, rewrapped } = await keys.prepare();
    if (sealed.length > 0) log.warn({ kids: sealed, masterKey: ring.current.id }, 'signing keys stored in clear (a store from before keys were sealed) are now sealed under the master key');
    if (rewrapped.length > 0) log.info({ kids: rewrapped, masterKey: ring.current.id }, 'signing keys re-wrapped under the current master key');
  } catch (err) {
    ring.close();
    if (err instanceof SigningKeyLocked || err instanceof SigningKeyTampered) {
      throw new ConfigError(`invalid config ${source}:\n  - vault: ${err.message}; give that master key (as current, or as a previous key during a rotation)`);
    }
    throw err;
  }
  return { keys, ring };
}

/** The lease manager of a config; undefined when it configures no leases. */
export function leaseManagerFor(config: WardenConfig, store: Store, log: Logger, audit?: AuditRecorder, signSubject?: SubjectSigner): LeaseManager | undefined {
  if (Object.keys(config.leases).length === 0) return undefined;
  const onEvent = async (event: 'issued' | 'revoked', l: LeaseRecord): Promise<void> => {
    // The lease's event names whose task it was for, so a trace reads "for alice, by planner".
    const t = await store.tasks.get(l.task).catch(() => undefined);
    await audit
      ?.record({
        startedAt: Date.now(),
        agent: t?.agent ?? null,
        user: t?.user ?? null,
        tenant: t?.tenant ?? null,
        chain: [],
        authMethod: null,
        task: l.task,
        sessionId: null,
        protocolVersion: null,
        method: event === 'issued' ? 'lease/issue' : 'lease/revoke',
        upstream: null,
        target: `${l.name} (${l.provider} ${l.handle})`,
        argsDigest: null,
        leaseIds: [l.id],
        outcome: 'ok',
        errorCode: null,
      })
      .catch((err: unknown) => log.error({ err }, 'could not record a lease event'));
  };
  return new LeaseManager({ store: store.leases, tasks: store.tasks, leases: config.leases, log, onEvent, ...(signSubject ? { signSubject } : {}) });
}

/**
 * Signs token-exchange subject tokens with the gateway's keys (published at /.well-known/jwks.json): the
 * task's user as `sub`, its agent as `act`, the task id; short-lived (at most 5 minutes, never past the task).
 */
export function subjectSigner(keys: SignerSource, issuer: () => string): SubjectSigner {
  return async (c, audience, expiresAt) => {
    const key = await keys.current();
    const exp = Math.min(Math.floor(expiresAt.getTime() / 1000), Math.floor(Date.now() / 1000) + 300);
    const iat = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer(), sub: c.user ?? c.agent, aud: audience, iat, exp, jti: randomUUID(), act: { sub: c.agent }, client_id: c.agent, task: c.task };
    return signJwt(key, { typ: 'JWT' }, { ...claims, ...(c.tenant ? { tenant: c.tenant } : {}) });
  };
}
