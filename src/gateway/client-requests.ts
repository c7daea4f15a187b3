/**
 * Requests the gateway sends to a session's client (relayed upstream requests, its own approval prompts),
 * each waiting for the client's answer by id, with a deadline.
 */
import { randomBytes } from 'node:crypto';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse, Params } from '../protocol/jsonrpc.js';
import type { Outbound } from './channel.js';

/** Client capabilities the gateway relays for an upstream; roots are the operator's (see rootsFor). */
export const RELAYABLE = ['sampling', 'elicitation'] as const;
export const REQUIRED_CAPABILITY: Record<string, (typeof RELAYABLE)[number]> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
};

/** Progress tokens and client request ids are unique across the process (and replicas): pooled connections carry many sessions. */
const INSTANCE = randomBytes(6).toString('base64url');
let nextToken = 1;

/** A token no other session or replica hands out: `prefix`, this process's instance, a counter. */
export function uniqueToken(prefix: string): string {
  return `${prefix}${INSTANCE}-${nextToken++}`;
}

export class ClientRequests {
  private readonly pending = new Map<JsonRpcId, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly timeoutMs: number) {}

  /** Sends a request to the client on `out` and returns its answer; rejects when it cannot be sent or is not answered in time. */
  ask(out: Outbound, method: string, params: Params | undefined): Promise<Record<string, unknown>> {
    const id = uniqueToken('warden-');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WardenError('upstream_timeout', `The client did not answer ${method} in time`, JsonRpcCode.UpstreamTimeout));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const message: JsonRpcMessage = { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) };
      if (!out.send(message)) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new WardenError('client_capability_missing', 'The client stream cannot carry requests', JsonRpcCode.InternalError));
      }
    });
  }

  /** A client's answer to a relayed request. Returns false for an id the gateway never sent. */
  accept(res: JsonRpcResponse): boolean {
    const pending = res.id === null ? undefined : this.pending.get(res.id);
    if (!pending || res.id === null) return false;
    this.pending.delete(res.id);
    clearTimeout(pending.timer);
    if ('error' in res) pending.reject(new WardenError('upstream_error', res.error.message, res.error.code));
    else pending.resolve(res.result);
    return true;
  }

  /** The session ended: every request still waiting is refused. */
  rejectAll(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new WardenError('session_not_found', 'The session ended', JsonRpcCode.SessionNotFound));
    }
    this.pending.clear();
  }
}
