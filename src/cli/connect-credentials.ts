/**
 * Where `warden connect` gets the agent's bearer token. A source answers the Authorization header for the
 * next request synchronously (the transport reads it per request), is made fresh before each send, and is
 * refreshed once when the gateway refuses it. No message here ever contains a token or a secret.
 */
import { readFileSync, statSync } from 'node:fs';
import { decodeJwt } from 'jose';
import type { Logger } from '../telemetry/log.js';

export interface CredentialSource {
  /** The Authorization header value now, or '' before the first ensureFresh(). Never throws. */
  current(): string;
  /** Makes current() usable: reads the file, or fetches a token when the cached one is near its expiry. */
  ensureFresh(): Promise<void>;
  /** The gateway refused `refused`: get another (a no-op when current() has already moved on). */
  refresh(refused: string): Promise<void>;
}

/** The credential could not be obtained. The message is safe to show: it names files and endpoints, never values. */
export class CredentialError extends Error {
  override readonly name = 'CredentialError';
}

/** RFC 6750 b64token: also keeps a header line from carrying anything but the token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_BYTES = 64 * 1024;

/** Checks that `value` can be sent as a bearer token; `what` names where it came from. */
export function checkBearer(value: string, what: string): string {
  if (value.length === 0) throw new CredentialError(`${what} is empty`);
  if (value.length > MAX_TOKEN_BYTES || !B64TOKEN.test(value)) throw new CredentialError(`${what} does not hold a bearer token`);
  return value;
}

/** Epoch seconds of a JWT's exp, or undefined for an opaque token. Decoding only, no trust. */
export function jwtExpiry(token: string): number | undefined {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A bearer token in a file (an OAuth access token, or a JWT-SVID a SPIFFE helper rewrites). The file is
 * stat'ed on every request and read again when its inode, size or mtime changed; a refusal forces a read.
 */
export class TokenFileSource implements CredentialSource {
  private token = '';
  private stamp = '';

  constructor(
    private readonly file: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  current(): string {
    try {
      this.load(false);
    } catch {
      // Keep the last good token; ensureFresh() reports the problem on the next request.
    }
    return this.token ? `Bearer ${this.token}` : '';
  }

  ensureFresh(): Promise<void> {
    return Promise.resolve().then(() => this.load(false));
  }

  refresh(): Promise<void> {
    return Promise.resolve().then(() => this.load(true));
  }

  private load(force: boolean): void {
    let stamp: string;
    let text: string;
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (!force && stamp === this.stamp && this.token) return;
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      throw new CredentialError(`the token file ${this.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const token = checkBearer(text.trim().replace(/^Bearer\s+/i, ''), `the token file ${this.file}`);
    const changed = token !== this.token;
    this.token = token;
    this.stamp = stamp;
    if (!changed) return;
    const exp = jwtExpiry(token);
    if (exp !== undefined && exp * 1000 <= this.now()) {
      this.log.warn({ file: this.file, expiredAt: new Date(exp * 1000).toISOString() }, 'the token in the token file has expired');
    } else {
      this.log.debug({ file: this.file }, 'read the token file');
    }
  }
}
