/** Composes a running gateway from a config: store, audit, gateway, HTTP ingress. Used by serve, demo and tests. */
import { AuditRecorder } from '../audit/index.js';
import { ConfigError, resolveStoreSpec, type WardenConfig } from '../config/index.js';
import { Gateway } from '../gateway/index.js';
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

/** Refuses configurations that would expose an unauthenticated gateway beyond this machine. */
export function checkAuthMode(config: WardenConfig, log: Logger): void {
  const { host } = splitListen(config.listen);
  if (!config.auth) {
    throw new ConfigError(
      'auth: no authentication is configured. Identity providers are not available in this version; for local development set `auth: { mode: none }` with a loopback listen address.',
    );
  }
  if (!isLoopbackHost(host)) {
    throw new ConfigError(`auth.mode "none" is only accepted on a loopback listener; listen is ${config.listen}`);
  }
  log.warn('authentication is OFF (auth.mode: none): development only, every local process can use this gateway');
}

export async function startGateway(config: WardenConfig, baseDir: string, log: Logger): Promise<RunningGateway> {
  checkAuthMode(config, log);
  const store = await openStore(resolveStoreSpec(config.store, baseDir));
  try {
    const audit = new AuditRecorder(store.audit, log);
    const gateway = new Gateway({ config, audit, log, version: VERSION });
    const ingress = await startIngress(config, gateway, log);
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
