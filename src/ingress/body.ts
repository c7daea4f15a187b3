/** Reads a request body up to a limit; a larger body is refused without buffering the rest. */
import type { IncomingMessage } from 'node:http';
import { readLimitedBody } from '../core/read-body.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';

export function tooLarge(limit: number): WardenError {
  return new WardenError('body_too_large', `Request body exceeds the limit of ${limit} bytes`, JsonRpcCode.InvalidRequest, 413);
}

/**
 * The connection ended before the body did: the client went away, or took longer than limits.requestTimeoutMs
 * and was cut off (which the listener audits). There is no one to answer and nothing more to record.
 */
export class BodyAborted extends Error {
  override readonly name = 'BodyAborted';
}

export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  try {
    return await readLimitedBody(req, limit, () => tooLarge(limit));
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new BodyAborted('the connection ended before the request body');
  }
}
