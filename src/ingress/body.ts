/** Reads a request body up to a limit; a larger body is refused without buffering the rest. */
import type { IncomingMessage } from 'node:http';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';

export function tooLarge(limit: number): WardenError {
  return new WardenError('body_too_large', `Request body exceeds the limit of ${limit} bytes`, JsonRpcCode.InvalidRequest, 413);
}

export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    return Promise.reject(tooLarge(limit));
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
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
