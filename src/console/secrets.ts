/** The console's secrets from the environment: its cookie key and, for a confidential client, the client secret. */
import { ConfigError, type ConsoleConfig } from '../config/index.js';
import { MIN_PAGE_SECRET_BYTES } from '../web/page-cookies.js';

export function readConsoleSecrets(c: ConsoleConfig, env: NodeJS.ProcessEnv = process.env, source = 'config'): { secret?: string; clientSecret?: string } {
  if (!c.enabled) return {};
  const problems: string[] = [];
  const secret = env[c.secretEnv];
  if (secret === undefined || secret === '') problems.push(`console.secretEnv: the environment variable ${c.secretEnv} (the console secret) is not set`);
  else if (Buffer.byteLength(secret) < MIN_PAGE_SECRET_BYTES) problems.push(`console.secretEnv: the secret in ${c.secretEnv} must be at least ${MIN_PAGE_SECRET_BYTES} bytes`);
  const clientEnv = c.signIn?.clientSecretEnv;
  const clientSecret = clientEnv === undefined ? undefined : env[clientEnv];
  if (clientEnv !== undefined && !clientSecret) problems.push(`console.signIn.clientSecretEnv: the environment variable ${clientEnv} (the sign-in client secret) is not set`);
  if (problems.length > 0) throw new ConfigError(`invalid config ${source}:\n  - ${problems.join('\n  - ')}`);
  return { ...(secret ? { secret } : {}), ...(clientSecret ? { clientSecret } : {}) };
}
