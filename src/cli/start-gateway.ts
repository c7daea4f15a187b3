/** Composes a running gateway from a config: store, audit, gateway, HTTP ingress. Used by serve, demo and tests. */
import { hostname } from 'node:os';
import { Checkpointer, withCheckpoints } from '../audit/checkpoints.js';
import { AuditRecorder } from '../audit/index.js';
import { startRetention } from '../audit/retention.js';
import { createSinks, SinkPump } from '../audit/sinks/index.js';
import { checkAdminConfig } from '../admin/index.js';
import { approvalNotifierFor, readApprovalSecrets } from '../approvals/notifier.js';
import { approvalPageUrl } from '../approvals/page-url.js';
import { RequestStateCodec } from '../approvals/request-state.js';
import type { ApprovalService } from '../approvals/index.js';
import { ConfigError, resolveServerPaths, resolveStoreSpec, type ServerConfig, type WardenConfig } from '../config/index.js';
import { checkSecretReferences, openVaultForReferences, secretInjector } from '../credentials/inject.js';
import { checkUserSecrets, forUser } from '../credentials/user-secrets.js';
import { Redactor } from '../credentials/redactor.js';
import { checkUserOAuthConfig, oauthUpstreams, startUserOAuth, tokenVault } from './user-oauth.js';
import { auditPrincipal, checkGatewayFiles, Confinement, Gateway, gatewayFiles } from '../gateway/index.js';
import { leaseReferences } from '../credentials/leases/manager.js';
import { createIdentity, type Principal } from '../identity/index.js';
import { Health, isLoopbackHost, splitListen, startIngress, startMetricsListener } from '../ingress/index.js';
import { Metrics } from '../telemetry/metrics.js';
import { upstreamProcessCount } from '../upstream/index.js';
import { openStore, type Store } from '../store/index.js';
import { RevocationList } from '../revocation/index.js';
import type { Logger } from '../telemetry/log.js';
import type { TaskService } from '../tasks/index.js';
import type { ApprovalRecord } from '../store/types.js';
import { startPolicy, type RunningPolicy } from './start-policy.js';
import { reloadConfig, type ReloadReport } from './reload.js';
import { approvalServiceFor, callSealerFor, leaseManagerFor, serverFactsOf, signingKeysFor, startTaskHook, subjectSigner, taskServiceFor } from './services.js';
import type { SigningKeys } from '../identity/signing-keys.js';
import type { MasterKeyRing } from '../credentials/index.js';
import { VERSION } from './version.js';
import { reviewOf } from './review.js';
import { readConsoleSecrets } from '../console/index.js';

export interface RunningGateway {
  url: string;
  store: Store;
  gateway: Gateway;
  policy: RunningPolicy;
  tasks: TaskService;
  revocations: RevocationList;
  /** Absent when no approvers are configured. */
  approvals: ApprovalService | undefined;
  /** The signing keys of tokens and checkpoints (tests mint tokens with them). */
  keys: SigningKeys;
  /** Reads the config file again and applies what can change while running (see reload.ts); needs `source`. */
  reload(): Promise<ReloadReport>;
  /** Readiness (see src/ingress/health.ts). */
  health: Health;
  /** The /metrics URL on its own listener (metrics.listen), when there is one. */
  metricsUrl?: string;
  /** SIGTERM's first step: readiness 503, stop accepting, let calls in flight end (up to `ms`); then close(). */
  drain(ms: number): Promise<number>;
  close(): Promise<void>;
}

/** The bearer token /metrics requires, if any; refuses a config that would publish metrics unprotected. */
export function metricsToken(config: WardenConfig, env: NodeJS.ProcessEnv, source = 'config'): string | undefined {
  const m = config.metrics;
  if (!m.enabled) return undefined;
  const refuse = (why: string) => new ConfigError(`invalid config ${source}:\n  - metrics: ${why}`);
  if (m.tokenEnv !== undefined) {
    const token = env[m.tokenEnv];
    if (token === undefined || token.length < 16) throw refuse(`the environment variable ${m.tokenEnv} (metrics.tokenEnv) must hold a token of at least 16 characters`);
    return token;
  }
  const host = splitListen(m.listen ?? config.listen).host;
  if (m.listen === undefined && !isLoopbackHost(host)) {
    throw refuse('served on the gateway listener beyond loopback: set metrics.tokenEnv (a bearer token), or metrics.listen (an address only the scraper reaches)');
  }
  return undefined;
}

/** Refuses configurations that would expose the gateway unauthenticated or with an unstable audience. `source` names the file. */
export function checkAuthMode(config: WardenConfig, log: Logger, source = 'config'): void {
  const { host } = splitListen(config.listen);
  const refuse = (path: string, why: string) => new ConfigError(`invalid config ${source}:\n  - ${path}: ${why}`);
  const auth = config.auth;
  if (!auth) {
    throw refuse('auth', 'no authentication is configured: add auth.issuers (OAuth) or auth.spiffe, or for local development `auth: { mode: none }` with a loopback listen address.');
  }
  if (auth.mode === 'none') {
    if (!isLoopbackHost(host)) throw refuse('auth.mode', `"none" is only accepted on a loopback listener; listen is ${config.listen}`);
    log.warn('authentication is OFF (auth.mode: none): development only, every local process can use this gateway');
    return;
  }
  if (auth.issuers.length === 0 && !auth.spiffe) throw refuse('auth', 'name at least one trusted issuer (auth.issuers) or a SPIFFE trust domain (auth.spiffe)');
  if (!isLoopbackHost(host) && !config.publicUrl) {
    throw refuse('publicUrl', 'required when listening beyond loopback: tokens must be issued for the URL clients use (RFC 8707)');
  }
  if (config.tls?.clientCaFile && !auth.spiffe) throw refuse('tls.clientCaFile', 'client certificates are read as X.509-SVIDs: configure auth.spiffe with the trust domain');
}

/** The lease of the replica that runs the audit export pump, and how long it lasts unrenewed. */
const PUMP_LEASE = 'audit-export';
/** Long enough to outlast the gaps between the leader's runs (its poll renews it). */
const pumpLeaseMs = (pollMs: number): number => Math.max(15_000, 3 * pollMs);

/** The official SDK's default request timeout: a longer hold outlives clients that send no progress token. */
const SDK_DEFAULT_TIMEOUT_SECONDS = 60;

function warnLongHold(config: WardenConfig, log: Logger): void {
  const { approvers, holdSeconds } = config.approvals;
  if (approvers.length > 0 && holdSeconds >= SDK_DEFAULT_TIMEOUT_SECONDS) {
    log.warn({ holdSeconds }, `approvals.holdSeconds is ${holdSeconds}: clients that send no progress token (the MCP SDK's default) time out after ${SDK_DEFAULT_TIMEOUT_SECONDS} s without seeing approval_pending and its id; keep it below that`);
  }
}

/** Every use of vault secrets (an upstream connection opened with them) is an audit event: names, never values. */
async function recordSecretUse(audit: AuditRecorder, upstream: string, owner: Principal | null, secrets: readonly { name: string }[]): Promise<void> {
  await audit.record({
    startedAt: Date.now(),
    ...auditPrincipal(owner),
    sessionId: null,
    protocolVersion: null,
    method: 'secret/use',
    upstream,
    target: [...new Set(secrets.map((x) => x.name))].sort().join(', '),
    argsDigest: null,
    outcome: 'ok',
    errorCode: null,
  });
}

export async function startGateway(given: WardenConfig, baseDir: string, log: Logger, source?: string): Promise<RunningGateway> {
  // Stdio upstreams run in the config's directory (or their cwd relative to it), wherever we were started.
  const config = resolveServerPaths(given, baseDir);
  checkAuthMode(config, log, source);
  checkAdminConfig(config, source);
  // No upstream the gateway spawns is pointed at its own config, policies, store, keys or audit log.
  const enabled = new Map(Object.entries(config.mcpServers).filter(([, s]) => !s.disabled));
  const ownFiles = gatewayFiles(config, baseDir, source);
  const reachProblems = checkGatewayFiles(Object.fromEntries(enabled), baseDir, ownFiles);
  if (reachProblems.length > 0) throw new ConfigError(`invalid config ${source ?? 'config'}:\n${reachProblems.map((p) => `  - ${p}`).join('\n')}`);
  const approvalSecrets = readApprovalSecrets(config.approvals, process.env, source);
  const consoleSecrets = readConsoleSecrets(config.console, process.env, source);
  // With approvers, a master key is required: held calls are kept for them encrypted under it.
  const sealer = callSealerFor(config, baseDir, true, source);
  const policy = startPolicy(config, baseDir, log);
  const token = metricsToken(config, process.env, source);
  // Every store operation has a deadline: a silent link to the store is refused within the staleness window.
  const deadlineMs = config.revocation.maxStalenessSeconds * 1000;
  // SQLite: the log is checkpointed by a worker, so no request waits on a checkpoint.
  const backgroundCheckpoints = { onFailure: (reason: string) => log.warn({ reason }, 'SQLite WAL checkpoints are back on the commit path') };
  const store = await openStore(resolveStoreSpec(config.store, baseDir), { timeoutMs: deadlineMs, backgroundCheckpoints });
  // Revocations: this replica's in-memory list, kept current from the store; requests fail closed when it is stale.
  const revocations = new RevocationList({ store: store.revocations, maxStalenessMs: config.revocation.maxStalenessSeconds * 1000, pollMs: config.revocation.pollMs, log });
  await revocations.start();
  let vault: Awaited<ReturnType<typeof openVaultForReferences>>;
  let ring: MasterKeyRing | undefined;
  try {
    // `${secret:NAME}` references: every one must resolve now, or the gateway does not start.
    vault = await openVaultForReferences(config, store.secrets, { env: process.env, masterKeyFile: config.vault.masterKeyFile, previousKeyFiles: config.vault.previousKeyFiles, baseDir }, source);
    for (const warning of await checkSecretReferences(config, vault, { source })) log.warn(warning);
    // Per-user upstream OAuth: tokens in the vault, people connect on the Connections page (the approval page's sign-in).
    const oauthNames = oauthUpstreams(enabled);
    checkUserOAuthConfig(config, oauthNames, approvalSecrets.page, source);
    if (oauthNames.length > 0) vault = await tokenVault(vault, store, { env: process.env, masterKeyFile: config.vault.masterKeyFile, previousKeyFiles: config.vault.previousKeyFiles, baseDir }, oauthNames, source);
    const mappingProblems = await checkUserSecrets(Object.fromEntries(Object.entries(config.mcpServers).filter(([, x]) => !x.disabled)), vault);
    if (mappingProblems.length > 0) throw new ConfigError(`invalid config ${source ?? 'config'}:\n${mappingProblems.map((p) => `  - ${p}`).join('\n')}`);
    // Tokens and checkpoints are signed with keys sealed under the master key: none given, the gateway does not start.
    const signing = await signingKeysFor(config, store, baseDir, log, source);
    ring = signing.ring;
    const keys = signing.keys;
    const instance = `${hostname()}:${process.pid}`;
    const checkpointer = new Checkpointer({ audit: store.audit, keys, log, instance, ...config.audit.checkpoint });
    checkpointer.start();
    // Exports read the audit table as their outbox: a sink that is down loses nothing and never blocks a call.
    const sinks = createSinks(config.audit.sinks, { baseDir, version: VERSION });
    const pump =
      sinks.length > 0
        ? new SinkPump(
            { readAfter: (seq, limit) => store.audit.readChain(seq, limit) },
            { get: (sink) => store.audit.getSinkCursor(sink), set: (sink, seq) => store.audit.setSinkCursor(sink, seq) },
            sinks,
            log,
            {
              ...config.audit.export,
              // One replica pumps: the one holding the lease, renewed on each run (a lapsed one is taken over).
              leader: () => store.audit.holdLease(PUMP_LEASE, instance, pumpLeaseMs(config.audit.export.pollMs)),
              followerRetryMs: pumpLeaseMs(config.audit.export.pollMs) / 3,
            },
          )
        : undefined;
    pump?.start();
    const stopRetention = startRetention(store.audit, { retentionDays: config.audit.retentionDays, sinks: sinks.map((k) => k.name) }, log);
    const late: { gateway?: Gateway; metrics?: Metrics } = {};
    const audit: AuditRecorder = new AuditRecorder(withCheckpoints(store.audit, checkpointer), log, {
      instance,
      // Nothing is forwarded while the store is closed or has not answered within the deadline.
      available: (): boolean => store.isOpen() && health.storeOk(),
      onCommitted: () => pump?.wake(),
      onRecorded: (e, lagMs) => late.metrics?.observe(e, lagMs),
      deadlineMs,
    });
    const health: Health = new Health(
      {
        store: () => store.schemaVersion(),
        revocations: () => revocations.status(),
        audit: (): boolean => audit.healthy(),
        restoreAudit: () => audit.record({ startedAt: Date.now(), ...auditPrincipal(null), sessionId: null, protocolVersion: null, method: 'audit/restored', upstream: null, target: null, argsDigest: null, outcome: 'ok', errorCode: null }),
      },
      { deadlineMs },
    );
    await health.start();
    // Leases: issued when a task's session connects an upstream that refers to one, revoked when the task ends.
    // The issuer of subject tokens for token-exchange leases: known once listening when publicUrl is unset.
    const issuerRef: { url?: string } = { url: config.publicUrl };
    const issuer = () => config.tokenService.issuer ?? new URL(issuerRef.url ?? 'http://127.0.0.1').origin;
    const leases = leaseManagerFor(config, store, log, audit, subjectSigner(keys, issuer));
    leases?.check(Object.fromEntries(Object.entries(config.mcpServers).filter(([, s]) => !s.disabled)));
    leases?.startSweeping();
    // A task that ends here stops its sessions' upstream processes at once and revokes its leases.
    const serverFacts = serverFactsOf(config);
    const tasks = taskServiceFor(
      config,
      store.tasks,
      policy.current,
      async (t) => {
        await late.gateway?.endTask(t.id);
        if (leases) await leases.revokeTask(t.id);
      },
      serverFacts,
    );
    const injector = vault ? secretInjector(vault, log) : undefined;
    // Every credential value handed to an upstream is redacted from what upstreams send, user tokens included.
    const redactor = new Redactor();
    let linkBase = config.publicUrl;
    const userOAuth =
      oauthNames.length > 0 && vault
        ? startUserOAuth({ vault, servers: enabled, publicUrl: () => linkBase ?? 'http://127.0.0.1', audit, redactor, revocations, store, log, signSubject: subjectSigner(keys, issuer) })
        : undefined;
    const prepareServer =
      leases || injector || userOAuth
        ? async (name: string, server: ServerConfig, owner: Principal | null) => {
            // Leases first, then secrets (a secret's value is never scanned for references); the session redacts every value.
            const leased = leases ? await leases.prepare(name, server, owner) : { server, values: [], leaseIds: [] };
            // A user's own credentials replace the shared ones for their sessions (userSecrets).
            const personal = forUser(leased.server, owner?.user ?? null);
            const injected = injector ? await injector(name, personal) : { server: personal, secrets: [] };
            if (injected.secrets.length > 0) await recordSecretUse(audit, name, owner, injected.secrets);
            const leaseSecrets = leased.values.map((value) => ({ name: 'lease', value }));
            // The user's own OAuth token, read (and refreshed) for every upstream request; it is audited by connection id.
            const connected = userOAuth ? await userOAuth.oauth.prepare(name, await userOAuth.keys.prepare(name, injected.server, owner?.user ?? null), owner) : { server: injected.server, connectionId: '' };
            const leaseIds = connected.connectionId === '' ? leased.leaseIds : [...leased.leaseIds, connected.connectionId];
            return { server: connected.server, secrets: [...injected.secrets, ...leaseSecrets], leaseSecrets, leaseIds };
          }
        : undefined;
    // Approvers are told of each new request (approvals.webhook); its link needs the public URL, known once listening.
    const notifier = approvalNotifierFor(config.approvals, approvalSecrets, log, () => linkBase);
    // Each new request is an audit event of its own (the call's event carries the approval id once it ends).
    const requested = (r: ApprovalRecord, call: Record<string, unknown>): void => {
      notifier?.notify(r, call);
      void audit
        .record({ startedAt: Date.now(), agent: r.agent, user: r.user, tenant: r.tenant, chain: r.chain, authMethod: null, task: r.task, sessionId: null, protocolVersion: null, method: 'approval/request', upstream: r.upstream, target: r.tool, argsDigest: null, decision: { effect: 'needs-approval', policyIds: r.policyIds, reason: r.reason }, approvalId: r.id, outcome: 'ok', errorCode: null })
        .catch((err: unknown) => log.error({ err }, 'could not record an approval request'));
    };
    const approvals = approvalServiceFor(config, store.approvals, requested, sealer);
    // Complete calls of requests decided or expired while no gateway ran are deleted now.
    if (approvals) await store.approvals.forgetCalls(new Date().toISOString());
    warnLongHold(config, log);
    // In-protocol prompts (approvals.prompt: url) link to the approval page; their requestState is keyed by its secret.
    const approvalPrompt =
      config.approvals.prompt === 'url' && approvals && approvalSecrets.page !== undefined
        ? { pageUrl: (id: string) => approvalPageUrl(linkBase!, id), state: new RequestStateCodec(approvalSecrets.page) }
        : undefined;
    const gateway = new Gateway({
      config,
      audit,
      log,
      version: VERSION,
      redactor,
      policy: policy.current,
      tasks,
      approvals,
      revocations,
      ...(approvalPrompt ? { approvalPrompt } : {}),
      ...(prepareServer ? { prepareServer } : {}),
      confinement: new Confinement(enabled, baseDir, ownFiles),
      holdsLeases: (name) => leaseReferences(enabled.get(name)!).length > 0,
      integrityStore: store.integrity,
    });
    policy.attach(gateway);
    late.gateway = gateway;
    gateway.startTaskSweep();
    // Decisions by signed callback (approvals.callback): POST /approvals/<id>/decision.
    const callback = approvals && approvalSecrets.callback !== undefined ? { service: approvals, store: store.approvals, audit, secret: approvalSecrets.callback, toleranceSeconds: config.approvals.callback!.toleranceSeconds, log } : undefined;
    // The admin API (admin.enabled): approvers decide, operators revoke and end tasks, through the same services.
    const admin = config.admin.enabled ? { approvals, approvalStore: store.approvals, tasks, taskStore: store.tasks, tokens: store.tokens, revocations: store.revocations, audit, log, approverScope: config.admin.approverScope, adminScope: config.admin.adminScope, checkRevoked: (p: Principal) => revocations.check(p), integrity: { store: store.integrity, decide: gateway.integrity.decide.bind(gateway.integrity) } } : undefined;
    // The approval page (approvals.page): approvers sign in (OpenID Connect) and decide in a browser at /approvals/<id>.
    const pageConfig = config.approvals.page;
    if (pageConfig && !approvals) log.warn('approvals.page is configured but approvals.approvers is empty: the approval page is not served');
    const page =
      pageConfig && approvals && approvalSecrets.page !== undefined
        ? { service: approvals, store: store.approvals, audit, log, secret: approvalSecrets.page, page: pageConfig, clientSecret: approvalSecrets.pageClientSecret, approvers: config.approvals.approvers, separationOfDuties: config.approvals.separationOfDuties }
        : undefined;
    // The governance console (console.enabled): people sign in (OpenID Connect) and see and act by role at /console/.
    const consoleServices = config.console.enabled && consoleSecrets.secret !== undefined
      ? { config, baseDir, configFile: source, store, approvals, tasks, audit, policy: () => policy.current(), log, integrity: { store: store.integrity, decide: gateway.integrity.decide.bind(gateway.integrity) }, secret: consoleSecrets.secret, clientSecret: consoleSecrets.clientSecret, review: source === undefined ? undefined : () => reviewOf(config, baseDir, source, store) }
      : undefined;
    // The Connections page (upstreams with auth.oauth): signed in like the approval page, with its secret.
    const connections = userOAuth && pageConfig && approvalSecrets.page !== undefined ? { oauth: userOAuth.oauth, keys: userOAuth.keys, log, secret: approvalSecrets.page, page: pageConfig, clientSecret: approvalSecrets.pageClientSecret } : undefined;
    const metrics = config.metrics.enabled
      ? new Metrics(
          {
            sessions: () => gateway.sessionCount(),
            upstreamProcesses: upstreamProcessCount,
            storeUp: () => (health.storeOk() ? 1 : 0),
            ready: () => (health.status().ready ? 1 : 0),
            revocationAgeSeconds: () => Math.min(revocations.status().ageMs, 1e9) / 1000,
            auditQueue: () => audit.queued(),
          },
          { upstreams: () => gateway.serverNames },
        )
      : undefined;
    late.metrics = metrics;
    const metricsEndpoint = metrics ? { metrics, ...(token === undefined ? {} : { token }) } : undefined;
    const metricsListener = metricsEndpoint && config.metrics.listen ? await startMetricsListener(splitListen(config.metrics.listen).host, splitListen(config.metrics.listen).port, metricsEndpoint, health) : undefined;
    const ops = { health, ...(metricsEndpoint && !metricsListener ? { metrics: metricsEndpoint } : {}) };
    const ingress = await startIngress(config, gateway, log, baseDir, (publicUrl) => createIdentity(config, publicUrl, baseDir, store, keys, startTaskHook(config, tasks, audit), (p) => revocations.check(p)), callback, admin, page, consoleServices, store.sessions, connections, ops);
    linkBase ??= ingress.url;
    issuerRef.url ??= ingress.url;
    // What a config reload checks an added or changed upstream against: what start checked every one against.
    const checkServers = async (servers: Readonly<Record<string, ServerConfig>>, file: string): Promise<string[]> => {
      const noVault = 'the vault was not opened at start (no upstream referred to a secret then): restart the gateway';
      const warnings = await checkSecretReferences({ ...config, mcpServers: servers }, vault, { source: file, noVault });
      // An added or changed upstream may not reach the gateway's own files either.
      const problems = [...checkGatewayFiles(servers, baseDir, ownFiles), ...(await checkUserSecrets(servers, vault))];
      if (leases) leases.check(servers);
      else for (const [name, server] of Object.entries(servers)) for (const l of leaseReferences(server)) problems.push(`mcpServers.${name}: refers to \${lease:${l}}, but no leases are configured`);
      if (problems.length > 0) throw new ConfigError(`invalid config ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
      return warnings;
    };
    let reloading = Promise.resolve<unknown>(undefined);
    return {
      url: ingress.url,
      store,
      gateway,
      policy,
      tasks,
      revocations,
      approvals,
      keys,
      reload: () => {
        if (source === undefined) return Promise.resolve({ ok: false, error: 'no config file to reload' });
        // One reload at a time: a SIGHUP during a reload runs after it, on the file as it is then.
        const next = reloading.then(() => reloadConfig({ config, file: source, gateway, policy, checkServers, onServers: (c) => void serverFactsOf(c, serverFacts), log }));
        reloading = next.catch(() => undefined);
        return next;
      },
      health,
      ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
      drain: (ms) => ingress.drain(ms),
      close: async () => {
        policy.close();
        leases?.stop();
        userOAuth?.stop();
        await ingress.close();
        await gateway.close();
        await metricsListener?.close();
        health.stop();
        // Records of calls cut by the close are committed before the store closes.
        await audit.settled();
        await revocations.stop();
        // The last events get a checkpoint before the store closes.
        stopRetention();
        await checkpointer.stop();
        await pump?.stop();
        if (pump) await store.audit.releaseLease(PUMP_LEASE, instance).catch(() => undefined);
        vault?.close();
        sealer?.close();
        ring?.close();
        await store.close();
      },
    };
  } catch (err) {
    policy.close();
    await revocations.stop();
    vault?.close();
    sealer?.close();
    ring?.close();
    await store.close();
    throw err;
  }
}
