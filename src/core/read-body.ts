/** Reads a request body up to a limit; a larger body is refused (with `tooLarge()`) without buffering the rest. */
import type { IncomingMessage } from 'node:http';

export function readLimitedBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop reading: the answer closes the connection, so an endless body cannot keep the gateway busy.
        req.removeAllListeners('data');
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
