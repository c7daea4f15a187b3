/** The admin API needs real authentication: with `auth: { mode: none }` every local process would be an admin. */
import { ConfigError, type WardenConfig } from '../config/index.js';

/** Refuses `admin.enabled` unless `auth` is in oauth mode. `source` names the config file. */
export function checkAdminConfig(config: WardenConfig, source = 'config'): void {
  if (!config.admin.enabled || config.auth?.mode === 'oauth') return;
  throw new ConfigError(
    `invalid config ${source}:\n  - admin.enabled: the admin API needs authentication in oauth mode (auth.issuers or auth.spiffe); without it anyone who reaches the gateway would be an approver and an admin`,
  );
}
