/**
 * JSON-RPC over one transport: request ids, pending calls, timeouts, cancellation, and dispatch of what the
 * other side sends. The gateway forwards raw params and results through it, so nothing a server adds to a
 * result is dropped on the way (the SDK's typed helpers strip unknown fields).
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { JsonRpcCode, UpstreamRpcError, WardenError, toJsonRpcError } from '../protocol/errors.js';
import { DEFAULT_UPSTREAM_BOUNDS, UpstreamFault, type UpstreamBounds } from './fault.js';
import { InvalidResponseError } from './http-transport.js';
import type { JsonRpcId, JsonRpcNotification, JsonRpcRequest, Params } from '../protocol/jsonrpc.js';

export interface PeerHandlers {
  /** A request from the other side (sampling, elicitation, roots); its result or thrown error is sent back. */
  /** `tag` is the RequestOptions.tag of our request whose stream carried the message, when the transport knows it. */
  onRequest?: (request: JsonRpcRequest, tag?: unknown) => Promise<Record<string, unknown>>;
  onNotification?: (notification: JsonRpcNotification, tag?: unknown) => void;
  /** The transport closed; `unexpected` is false only after close() was called; `fault` when the upstream broke a bound. */
  onClose?: (unexpected: boolean, fault?: UpstreamFault) => void;
  /** Messages that are not valid JSON-RPC, and notifications dropped over the rate, for logging. */
  onInvalid?: (reason: string) => void;
}

export interface RequestOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Handed back with messages the upstream sends on this request's stream. */
  tag?: unknown;
}

interface Pending {
  tag?: unknown;
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class RpcPeer {
  private nextId = 1;
  private readonly pending = new Map<JsonRpcId, Pending>();
  private closing = false;
  private closed = false;
  private fault?: UpstreamFault;
  /** Notifications in the current one-second window. */
  private window = { second: 0, notifications: 0 };

  constructor(
    private readonly transport: Transport,
    private readonly label: string,
    private readonly handlers: PeerHandlers = {},
    private readonly bounds: UpstreamBounds = DEFAULT_UPSTREAM_BOUNDS,
  ) {
    transport.onmessage = (m, extra) => {
      if (this.closed) return; // what a dropped connection still had buffered goes nowhere
      // Whatever handling an upstream's message throws (a relay, a client stream) ends this connection only.
      try {
        this.dispatch(m as unknown, (extra as { relatedRequestId?: JsonRpcId } | undefined)?.relatedRequestId);
      } catch (err) {
        this.fail(err instanceof UpstreamFault ? err : new UpstreamFault('sent a message that could not be handled'));
      }
    };
    transport.onclose = () => this.onTransportClose();
    transport.onerror = (err) => {
      // A broken bound drops the connection; other failures surface through send() rejections and onclose.
      if (err instanceof UpstreamFault) this.fail(err);
    };
  }

  start(): Promise<void> {
    return this.transport.start();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  request(method: string, params: Params | undefined, opts: RequestOptions): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(unavailable(this.label));
    if (opts.signal?.aborted) return Promise.reject(cancelled());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(id, undefined, new WardenError('upstream_timeout', `Upstream "${this.label}" did not answer ${method} within ${opts.timeoutMs} ms`, JsonRpcCode.UpstreamTimeout, 200));
        this.sendCancel(id, 'timeout');
      }, opts.timeoutMs);
      const onAbort = () => {
        this.settle(id, undefined, cancelled());
        this.sendCancel(id, 'cancelled by client');
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        tag: opts.tag,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
        },
      });
      const message = { jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) } as JSONRPCMessage;
      this.transport.send(message).catch((err: unknown) => {
        if (err instanceof UpstreamFault) return this.fail(err);
        // The request's own credential could not be given (a user's OAuth connection is gone): said as it is.
        if (err instanceof WardenError && (err.code === 'connect_required' || err.code === 'user_credential_unavailable')) return this.settle(id, undefined, err);
        if (err instanceof InvalidResponseError) {
          this.settle(id, undefined, new WardenError('upstream_invalid_result', `Upstream "${this.label}" sent an invalid response`, JsonRpcCode.UpstreamInvalidResult, 200));
          return;
        }
        const status = (err as { code?: unknown }).code;
        const detail = typeof status === 'number' && status > 0 ? ` (HTTP ${status})` : '';
        const unreachable = new WardenError('upstream_unavailable', `Upstream "${this.label}" could not be reached${detail}`, JsonRpcCode.UpstreamUnavailable, 200);
        // The network cause is for the operator's log (never sent to a client): kept as the error's cause.
        this.settle(id, undefined, Object.assign(unreachable, { cause: err }));
      });
    });
  }

  notify(method: string, params?: Params): Promise<void> {
    if (this.closed) return Promise.resolve();
    const message = { jsonrpc: '2.0', method, ...(params !== undefined ? { params } : {}) } as JSONRPCMessage;
    return this.transport.send(message).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    await this.transport.close().catch(() => undefined);
    this.onTransportClose();
  }

  /** The upstream broke the protocol or a bound: the connection is dropped as if it had crashed, and said why. */
  fail(fault: UpstreamFault): void {
    if (this.closed) return;
    this.fault = fault;
    void this.transport.close().catch(() => undefined);
    this.onTransportClose();
  }

  private sendCancel(id: JsonRpcId, reason: string): void {
    void this.notify('notifications/cancelled', { requestId: id, reason });
  }

  private settle(id: JsonRpcId, result: Record<string, unknown> | undefined, err?: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.cleanup();
    if (err) p.reject(err);
    else p.resolve(result ?? {});
  }

  private dispatch(m: unknown, relatedId?: JsonRpcId): void {
    if (!isObject(m) || m.jsonrpc !== '2.0') {
      this.handlers.onInvalid?.('not a JSON-RPC 2.0 message');
      return;
    }
    if (typeof m.method === 'string') {
      const tag = relatedId === undefined ? undefined : this.pending.get(relatedId)?.tag;
      if ('id' in m && (typeof m.id === 'string' || typeof m.id === 'number')) void this.answer(m as unknown as JsonRpcRequest, tag);
      else if (this.withinRate()) this.handlers.onNotification?.(m as unknown as JsonRpcNotification, tag);
      return;
    }
    const id = m.id as JsonRpcId;
    if (!this.pending.has(id)) {
      this.handlers.onInvalid?.('response to an unknown request id');
      return;
    }
    if (isObject(m.error)) {
      const e = m.error;
      const message = typeof e.message === 'string' ? e.message : 'Upstream error';
      this.settle(id, undefined, new UpstreamRpcError(typeof e.code === 'number' ? e.code : JsonRpcCode.InternalError, message, e.data));
    } else if (isObject(m.result)) {
      this.settle(id, m.result);
    } else {
      this.settle(id, undefined, new WardenError('upstream_invalid_result', `Upstream "${this.label}" sent an invalid response`, JsonRpcCode.UpstreamInvalidResult, 200));
    }
  }

  /** Counts a notification against the per-second budget; a flood beyond it is dropped, logged once a second. */
  private withinRate(): boolean {
    const second = Math.floor(Date.now() / 1000);
    if (this.window.second !== second) this.window = { second, notifications: 0 };
    if (++this.window.notifications <= this.bounds.maxNotificationsPerSecond) return true;
    if (this.window.notifications === this.bounds.maxNotificationsPerSecond + 1) {
      this.handlers.onInvalid?.(`more than ${this.bounds.maxNotificationsPerSecond} notifications a second: the rest of this second's are dropped`);
    }
    return false;
  }

  private async answer(req: JsonRpcRequest, tag: unknown): Promise<void> {
    let reply: JSONRPCMessage;
    try {
      if (!this.handlers.onRequest) throw new WardenError('method_not_found', `Method not supported: ${req.method}`, JsonRpcCode.MethodNotFound);
      const result = await this.handlers.onRequest(req, tag);
      reply = { jsonrpc: '2.0', id: req.id, result } as JSONRPCMessage;
    } catch (err) {
      reply = { jsonrpc: '2.0', id: req.id, error: toJsonRpcError(err) } as JSONRPCMessage;
    }
    if (!this.closed) await this.transport.send(reply).catch(() => undefined);
  }

  private onTransportClose(): void {
    if (this.closed) return;
    this.closed = true;
    const unexpected = !this.closing;
    const fault = this.fault;
    for (const id of [...this.pending.keys()]) {
      this.settle(id, undefined, fault
        ? new WardenError('upstream_protocol_error', `Upstream "${this.label}" ${fault.message}; its connection is being restarted`, JsonRpcCode.UpstreamUnavailable, 200)
        : unexpected
          ? new WardenError('upstream_crashed', `Upstream "${this.label}" closed the connection before answering`, JsonRpcCode.UpstreamUnavailable, 200)
          : unavailable(this.label));
    }
    this.handlers.onClose?.(unexpected, fault);
  }
}

function unavailable(label: string): WardenError {
  return new WardenError('upstream_unavailable', `Upstream "${label}" is not connected`, JsonRpcCode.UpstreamUnavailable, 200);
}

function cancelled(): WardenError {
  return new WardenError('cancelled', 'The request was cancelled', JsonRpcCode.InternalError, 200);
}
