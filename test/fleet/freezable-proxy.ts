/**
 * A TCP proxy between a gateway and PostgreSQL that a test can freeze: frozen, it stops forwarding in both
 * directions and holds new connections without closing anything (a silent partition: no RST, no FIN, the
 * peer just stops answering); thawed, everything held flows again. `cut` closes every connection (a link
 * that drops loudly).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface FreezableProxy {
  port: number;
  freeze(): void;
  thaw(): void;
  cut(): void;
  close(): Promise<void>;
}

export async function startFreezableProxy(targetHost: string, targetPort: number): Promise<FreezableProxy> {
  let frozen = false;
  const pairs = new Set<{ a: Socket; b: Socket }>();
  const waiting: (() => void)[] = [];
  const pipe = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!frozen) from.resume();
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.destroy());
  };
  const link = (client: Socket): void => {
    const upstream = connect(targetPort, targetHost);
    const pair = { a: client, b: upstream };
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    pipe(client, upstream);
    pipe(upstream, client);
    if (frozen) {
      client.pause();
      upstream.pause();
    }
  };
  const server: Server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (frozen) {
      // Accepted, but nothing is forwarded until the thaw: the connect just never completes its handshake.
      client.pause();
      waiting.push(() => {
        link(client);
        client.resume();
      });
    } else link(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    freeze() {
      frozen = true;
      for (const { a, b } of pairs) {
        a.pause();
        b.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const { a, b } of pairs) {
        a.resume();
        b.resume();
      }
      for (const go of waiting.splice(0)) go();
    },
    cut() {
      for (const { a, b } of pairs) {
        a.destroy();
        b.destroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { a, b } of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
