/**
 * The stdio side of `warden connect`: newline-delimited JSON-RPC from the local client goes to the gateway
 * over Streamable HTTP; everything the gateway sends (responses, notifications, its own requests on SSE
 * streams) comes back as lines on stdout. Sends run concurrently (a tool call that waits for the client's
 * answer to a server request must not block that answer), except that nothing overtakes `initialize`.
 */
import { createInterface } from 'node:readline';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../telemetry/log.js';
import { HttpClientTransport, HttpStatusError } from '../upstream/http-transport.js';
import type { CredentialSource } from './connect-credentials.js';
import { connectError, GatewayAuthError } from './connect-errors.js';

export interface BridgeOptions {
  gateway: URL;
  /** The agent's credential; absent for a gateway that runs without authentication. */
  source?: CredentialSource;
  log: Logger;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** After stdin ends, how long requests still in flight may take before the session is ended. */
  drainMs?: number;
}

type Message = JSONRPCMessage & { method?: unknown; id?: unknown };

/** Runs until stdin ends (or SIGINT/SIGTERM), then ends the gateway session. */
export function runBridge(opts: BridgeOptions): Promise<void> {
  const { gateway, source, log } = opts;
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  // The transport spreads its header record into every request it makes (POST, the GET streams, DELETE),
  // so a getter here gives each request the credential as it is at that moment, rotation included.
  // Read per request, so a rotated or refreshed credential is used from the next request on.
  const transport = new HttpClientTransport(gateway, (): Record<string, string> => (source ? { authorization: source.current() } : {}));
  const inflight = new Set<Promise<void>>();
  let initializing: Promise<void> = Promise.resolve();
  let closing = false;

  const write = (m: unknown) => {
    if (!closing || inflight.size > 0) output.write(JSON.stringify(m) + '\n');
  };
  transport.onmessage = (m) => write(m);
  transport.onerror = (err) => log.warn({ err: err.message }, 'a stream from the gateway failed');

  async function send(m: Message): Promise<void> {
    if (!source) {
      try {
        return await transport.send(m);
      } catch (err) {
        if (err instanceof HttpStatusError && err.code === 401) throw new GatewayAuthError('the gateway requires a credential: give --token-file or client credentials');
        throw err;
      }
    }
    await source.ensureFresh();
    const used = source.current();
    try {
      return await transport.send(m);
    } catch (err) {
      if (!(err instanceof HttpStatusError && err.code === 401)) throw err;
    }
    log.warn({ method: m.method }, 'the gateway refused the credential (401); refreshing it and retrying once');
    await source.refresh(used);
    try {
      return await transport.send(m);
    } catch (err) {
      if (err instanceof HttpStatusError && err.code === 401) throw new GatewayAuthError('the gateway refused the credential');
      throw err;
    }
  }

  async function forward(m: Message): Promise<void> {
    try {
      await send(m);
    } catch (err) {
      if (closing && (err as Error).message === 'transport closed') return;
      const error = connectError(err, gateway);
      log.warn({ method: m.method, reason: error.data.reason, status: error.data.status }, error.message);
      if (typeof m.method === 'string' && m.id !== undefined) write({ jsonrpc: '2.0', id: m.id, error });
    }
  }

  const lines = createInterface({ input, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (closing || line.trim() === '') return;
    let m: Message;
    try {
      m = JSON.parse(line) as Message;
    } catch {
      log.warn('ignored a line on stdin that is not JSON');
      return;
    }
    const p = initializing.then(() => forward(m));
    if (m.method === 'initialize') initializing = p;
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  });

  return new Promise<void>((resolve) => {
    const shutdown = async (drain: boolean) => {
      if (closing) return;
      closing = true;
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      if (drain && inflight.size > 0) await Promise.race([Promise.allSettled([...inflight]), delay(opts.drainMs ?? 30_000)]);
      inflight.clear();
      if (source && transport.sessionId) await source.ensureFresh().catch(() => undefined);
      await transport.close(); // DELETE ends the gateway session
      lines.close();
      resolve();
    };
    const onSignal = () => void shutdown(false);
    lines.once('close', () => void shutdown(true));
    output.on('error', () => void shutdown(false)); // the client went away (EPIPE)
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
