/** Composes a running gateway from a config: store, audit, gateway, HTTP ingress. Used by serve, demo and tests. */
import { AuditRecorder } from '../audit/index.js';
import { ConfigError, resolveStoreSpec, type WardenConfig } from '../config/index.js';
import { Gateway } from '../gateway/index.js';
import { createIdentity } from '../identity/index.js';
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
    const audit = new AuditRecorder(store.audit, log, undefined, undefined, () => store.isOpen());
    const gateway = new Gateway({ config, audit, log, version: VERSION });
    const ingress = await startIngress(config, gateway, log, baseDir, (publicUrl) => createIdentity(config, publicUrl, baseDir, store));
    return {
      url: ingress.url,
      store,
      gateway,
      close: async () => {
        await ingress.close();
        await gateway.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
