/**
 * Tells approvers that a request is waiting: a JSON POST per opened request, signed with the audit
 * webhook's scheme (`X-Warden-Timestamp`, `X-Warden-Signature: sha256=<hex HMAC-SHA256(secret,
 * `${timestamp}.${body}`)>`), so a receiver checks it with `verifyWebhookSignature`.
 *
 * Delivery is fire-and-forget with one retry: a receiver that is down, slow or failing never delays or
 * fails the held call (the approver can still use the CLI). Failures are logged with the request id and a
 * short reason, never the URL (it may carry a token) nor the secret.
 *
 * Secrets come from the environment, never the config file: `readApprovalSecrets` refuses a configured
 * webhook or callback whose variable is unset or shorter than 16 bytes, and a configured approval page whose
 * secret is unset or shorter than 32 bytes (or whose named client secret is unset), before the gateway starts.
 */
import { postSigned } from '../audit/sinks/webhook.js';
import { ConfigError } from '../config/index.js';
import type { WardenConfig } from '../config/schema.js';
import type { ApprovalRecord } from '../store/types.js';
import type { Logger } from '../telemetry/log.js';
import { jsonBytes } from './call-view.js';

export type ApprovalsConfig = WardenConfig['approvals'];

/** The HMAC secrets of the configured approval webhook and callback (absent when not configured). */
export interface ApprovalSecrets {
  webhook?: string;
  callback?: string;
  /** `approvals.page.secretEnv`: keys the page's cookies and CSRF tokens. */
  page?: string;
  /** `approvals.page.signIn.clientSecretEnv`, when named: the page's OpenID client is confidential. */
  pageClientSecret?: string;
}

const MIN_SECRET_BYTES = 16;
/** The page secret keys sessions that authorise decisions: HMAC-SHA256 keys of the hash's full size. */
const MIN_PAGE_SECRET_BYTES = 32;

/**
 * Reads the secrets `approvals.webhook`, `approvals.callback` (when enabled) and `approvals.page` name; throws a ConfigError
 * listing every missing or short one (by variable name, never its value). `source` names the config file.
 */
export function readApprovalSecrets(approvals: ApprovalsConfig, env: NodeJS.ProcessEnv = process.env, source = 'config'): ApprovalSecrets {
  const problems: string[] = [];
  const read = (path: string, name: string, min = MIN_SECRET_BYTES, what = 'the signing secret'): string | undefined => {
    const value = env[name];
    if (value === undefined || value === '') problems.push(`${path}: the environment variable ${name} (${what}) is not set`);
    else if (Buffer.byteLength(value) < min) problems.push(`${path}: the secret in ${name} must be at least ${min} bytes`);
    else return value;
    return undefined;
  };
  const secrets: ApprovalSecrets = {};
  if (approvals.webhook) secrets.webhook = read('approvals.webhook.secretEnv', approvals.webhook.secretEnv);
  if (approvals.callback?.enabled) secrets.callback = read('approvals.callback.secretEnv', approvals.callback.secretEnv);
  if (approvals.page) {
    secrets.page = read('approvals.page.secretEnv', approvals.page.secretEnv, MIN_PAGE_SECRET_BYTES, 'the approval page secret');
    const client = approvals.page.signIn.clientSecretEnv;
    if (client !== undefined) secrets.pageClientSecret = read('approvals.page.signIn.clientSecretEnv', client, 1, 'the sign-in client secret');
  }
  if (problems.length > 0) throw new ConfigError(`invalid config ${source}:\n  - ${problems.join('\n  - ')}`);
  return secrets;
}

export interface ApprovalNotifierOptions {
  url: string;
  /** HMAC key; at least 16 bytes. */
  secret: string;
  /** Per attempt. Default 5000. */
  timeoutMs?: number;
  /** Extra request headers (e.g. an API key for the receiver). */
  headers?: Record<string, string>;
  /** The gateway's public URL (its origin is used), read per request: the port is known only once it listens. */
  publicUrl: () => string | undefined;
  log: Logger;
  /** Wait before the one retry. Default 1000. */
  retryDelayMs?: number;
  /** Epoch milliseconds; injected for tests. */
  now?: () => number;
}

/**
 * The body a receiver gets: the request, and the complete call approvers are shown (`call.params`: every
 * key and value the upstream would receive, values from the vault as `[redacted:NAME]`; `call.bytes` its
 * size as JSON). `arguments` is `call.params.arguments`, whole.
 */
export function approvalRequestedBody(r: ApprovalRecord, call: Record<string, unknown>, publicUrl: string | undefined): Record<string, unknown> {
  const approval = {
    id: r.id,
    agent: r.agent,
    user: r.user,
    tenant: r.tenant,
    chain: r.chain,
    task: r.task,
    upstream: r.upstream,
    tool: r.tool,
    arguments: call.arguments ?? null,
    call: { params: call, bytes: jsonBytes(call) },
    reason: r.reason,
    policyIds: r.policyIds,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
  };
  const links = publicUrl ? { links: { approve: `${new URL(publicUrl).origin}/approvals/${encodeURIComponent(r.id)}/decision` } } : {};
  return { type: 'approval.requested', approval, ...links };
}

export class ApprovalNotifier {
  private readonly url: URL;
  private readonly inFlight = new Set<Promise<boolean>>();

  constructor(private readonly opts: ApprovalNotifierOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new Error('approval webhook: the url is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('approval webhook: the url must be http or https');
    if (Buffer.byteLength(opts.secret ?? '') < MIN_SECRET_BYTES) throw new Error(`approval webhook: the secret must be at least ${MIN_SECRET_BYTES} bytes`);
    this.url = url;
  }

  /** For ApprovalServiceOptions.onOpened: starts the delivery and returns at once; never throws. */
  readonly notify = (r: ApprovalRecord, call: Record<string, unknown>): void => {
    const p = this.deliver(r, call).catch(() => false);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  };

  /** Resolves once every delivery started so far has succeeded or given up. */
  async idle(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /** Two attempts at most; true when the receiver answered 2xx. */
  async deliver(r: ApprovalRecord, call: Record<string, unknown>): Promise<boolean> {
    const body = JSON.stringify(approvalRequestedBody(r, call, this.opts.publicUrl()));
    for (let attempt = 1; attempt <= 2; attempt++) {
      const failure = await this.attempt(body);
      if (failure === undefined) {
        this.opts.log.debug({ approvalId: r.id, attempt }, 'approval webhook delivered');
        return true;
      }
      if (attempt === 1) {
        this.opts.log.info({ approvalId: r.id, reason: failure }, 'approval webhook failed; retrying once');
        await new Promise((done) => setTimeout(done, this.opts.retryDelayMs ?? 1000).unref());
      } else {
        this.opts.log.warn({ approvalId: r.id, reason: failure }, 'approval webhook not delivered (approvers can still use `warden approvals`)');
      }
    }
    return false;
  }

  /** One POST; undefined on success, else a short reason without the URL or the secret. */
  private attempt(body: string): Promise<string | undefined> {
    return postSigned({ url: this.url, secret: this.opts.secret, headers: this.opts.headers, body, timeoutMs: this.opts.timeoutMs ?? 5000, ...(this.opts.now ? { now: this.opts.now } : {}) });
  }
}

/** The notifier of a config, or undefined without `approvals.webhook`. `secrets` from readApprovalSecrets. */
export function approvalNotifierFor(approvals: ApprovalsConfig, secrets: ApprovalSecrets, log: Logger, publicUrl: () => string | undefined): ApprovalNotifier | undefined {
  const w = approvals.webhook;
  if (!w || secrets.webhook === undefined) return undefined;
  return new ApprovalNotifier({ url: w.url, secret: secrets.webhook, timeoutMs: w.timeoutMs, headers: w.headers, publicUrl, log });
}
