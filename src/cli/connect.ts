/**
 * `warden connect <gateway-url>`: a stdio MCP server for local clients (desktop apps, IDEs) that forwards
 * everything to the gateway, authenticated as the agent. Secrets never come from argv: a token file, a
 * client secret file (or WARDEN_CLIENT_SECRET), or a private key file. Only JSON-RPC goes to stdout;
 * diagnostics go to stderr. Bad arguments exit 2 with the usage.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createLogger, type Logger } from '../telemetry/log.js';
import { runBridge } from './connect-bridge.js';
import { CredentialError, TokenFileSource, type CredentialSource } from './connect-credentials.js';
import { ClientCredentialsSource, clientSecretBasic } from './connect-oauth.js';
import { loadSigningKey, privateKeyJwt } from './connect-private-key.js';
import { UsageError } from './exit.js';

export interface ConnectOptions {
  tokenFile?: string;
  tokenUrl?: string;
  clientId?: string;
  clientSecretFile?: string;
  privateKey?: string;
  keyId?: string;
  alg?: string;
  scope?: string;
}

/** A bad command line: reported with the usage, exit 2. */

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/i;

function httpUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${what} is not a URL: ${value}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${what} must be an http(s) URL`);
  return url;
}

function warnIfPlain(url: URL, what: string, log: Logger): void {
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname)) log.warn({ url: url.origin }, `${what} is plain HTTP beyond this machine: credentials travel unencrypted`);
}

/** The credential the options describe, checked for completeness; undefined for none. */
export async function credentialFrom(opts: ConnectOptions, gateway: URL, log: Logger): Promise<CredentialSource | undefined> {
  const oauthFlags = (['tokenUrl', 'clientId', 'clientSecretFile', 'privateKey', 'keyId', 'alg', 'scope'] as const).filter((k) => opts[k] !== undefined);
  if (opts.tokenFile !== undefined) {
    if (oauthFlags.length > 0) throw new UsageError(`--token-file cannot be combined with ${oauthFlags.map(flag).join(', ')}`);
    const source = new TokenFileSource(opts.tokenFile, log);
    try {
      await source.ensureFresh();
    } catch (err) {
      if (err instanceof CredentialError) throw new UsageError(`--token-file: ${err.message}`);
      throw err;
    }
    return source;
  }
  if (oauthFlags.length === 0) return undefined;
  if (!opts.tokenUrl || !opts.clientId) throw new UsageError('client credentials need --token-url and --client-id');
  const tokenUrl = httpUrl(opts.tokenUrl, '--token-url');
  warnIfPlain(tokenUrl, 'the token endpoint', log);
  const common = { tokenUrl: opts.tokenUrl, clientId: opts.clientId, resource: gateway.href, scope: opts.scope, log };
  if (opts.privateKey !== undefined) {
    if (opts.clientSecretFile !== undefined) throw new UsageError('give either --private-key or --client-secret-file, not both');
    const key = await loadSigningKey(opts.privateKey, opts.alg, opts.keyId).catch((err: Error) => {
      throw new UsageError(err.message);
    });
    return new ClientCredentialsSource({ ...common, auth: privateKeyJwt(opts.clientId, opts.tokenUrl, key) });
  }
  if (opts.keyId !== undefined || opts.alg !== undefined) throw new UsageError('--key-id and --alg go with --private-key');
  const secretFile = opts.clientSecretFile;
  const readSecret = secretFile !== undefined ? () => readFileSync(secretFile, 'utf8').trim() : () => process.env.WARDEN_CLIENT_SECRET ?? '';
  let secret: string;
  try {
    secret = readSecret();
  } catch (err) {
    throw new UsageError(`--client-secret-file ${secretFile}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (secret === '') throw new UsageError(`the client secret is empty: give --client-secret-file, set WARDEN_CLIENT_SECRET, or use --private-key`);
  // Read again for each token request, so a rotated secret file is picked up.
  return new ClientCredentialsSource({ ...common, auth: clientSecretBasic(opts.clientId, () => (secretFile !== undefined ? readSecret() : secret)) });
}

function flag(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export async function connect(gatewayUrl: string, opts: ConnectOptions, cmd: Command): Promise<void> {
  const log = createLogger(process.env.WARDEN_LOG_LEVEL ?? 'info', process.stderr);
  let gateway: URL;
  let source: CredentialSource | undefined;
  try {
    gateway = httpUrl(gatewayUrl, 'the gateway URL');
    source = await credentialFrom(opts, gateway, log);
  } catch (err) {
    if (err instanceof UsageError) cmd.error(`error: ${err.message}`, { exitCode: 2, code: 'warden.usage' });
    throw err;
  }
  warnIfPlain(gateway, 'the gateway URL', log);
  if (!source) log.warn('no credential given (--token-file, or --token-url with --client-id): requests go to the gateway unauthenticated');
  log.info({ gateway: gateway.href, credential: opts.tokenFile ? 'token-file' : opts.privateKey ? 'private_key_jwt' : source ? 'client_secret_basic' : 'none' }, 'warden connect: forwarding stdio to the gateway');
  await runBridge({ gateway, source, log });
  // Everything is closed; should a socket linger, do not keep the client waiting for the exit.
  setTimeout(() => process.exit(0), 500).unref();
}
