/** Composes a running gateway from a config: store, audit, gateway, HTTP ingress. Used by serve, demo and tests. */
import { hostname } from 'node:os';
import { Checkpointer, withCheckpoints } from '../audit/checkpoints.js';
import { AuditRecorder } from '../audit/index.js';
import { startRetention } from '../audit/retention.js';
import { createSinks, SinkPump } from '../audit/sinks/index.js';
import { ConfigError, resolveStoreSpec, type WardenConfig } from '../config/index.js';
import { Gateway } from '../gateway/index.js';
import { createIdentity } from '../identity/index.js';
import { SigningKeys } from '../identity/signing-keys.js';
import { isLoopbackHost, splitListen, startIngress } from '../ingress/index.js';
import { openStore, type Store } from '../store/index.js';
import type { Logger } from '../telemetry/log.js';
import { VERSION } from './version.js';

export interface RunningGateway {
  url: string;
  store: Store;
  gateway: Gateway;
  close(): Promise<void>;
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

export async function startGateway(config: WardenConfig, baseDir: string, log: Logger, source?: string): Promise<RunningGateway> {
  checkAuthMode(config, log, source);
  const store = await openStore(resolveStoreSpec(config.store, baseDir));
  try {
    const instance = `${hostname()}:${process.pid}`;
    const ts = config.tokenService;
    // One set of signing keys for gateway tokens and audit checkpoints. A retired key stays published until
    // every token it signed has expired, plus the largest clock skew the config allows (300 s).
    const keys = new SigningKeys(store.keys, ts.algorithm, ts.keyRotationHours * 3600_000, (ts.maxTtlSeconds + 300) * 1000);
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
            config.audit.export,
          )
        : undefined;
    pump?.start();
    const stopRetention = startRetention(store.audit, { retentionDays: config.audit.retentionDays, sinks: sinks.map((k) => k.name) }, log);
    const audit = new AuditRecorder(withCheckpoints(store.audit, checkpointer), log, { instance, available: () => store.isOpen(), onCommitted: () => pump?.wake() });
    const gateway = new Gateway({ config, audit, log, version: VERSION });
    const ingress = await startIngress(config, gateway, log, baseDir, (publicUrl) => createIdentity(config, publicUrl, baseDir, store, keys));
    return {
      url: ingress.url,
      store,
      gateway,
      close: async () => {
        await ingress.close();
        await gateway.close();
        // The last events get a checkpoint before the store closes.
        stopRetention();
        await checkpointer.stop();
        await pump?.stop();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
