/** How the gateway reaches a client: the ingress implements these for each response stream. */
import type { JsonRpcMessage } from '../protocol/jsonrpc.js';

export interface Outbound {
  /** Sends one message; returns false when this stream cannot carry it (closed, or a JSON-only response). */
  send(message: JsonRpcMessage): boolean;
}

/** The stream of one client request: related notifications and relayed requests go here. */
export interface RequestOutbound extends Outbound {
  /** Aborts when the request is cancelled (client notification, or a closed stream where that means cancel). */
  readonly signal: AbortSignal;
  /**
   * A stateless request's way to put an upstream's question (elicitation, sampling, roots) to its client:
   * as an input-required result, answered on the retry. Absent where the stream itself carries requests.
   */
  readonly ask?: (method: string, params: Record<string, unknown> | undefined) => Promise<Record<string, unknown>>;
}
