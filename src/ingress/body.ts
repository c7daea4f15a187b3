/** Reads a request body up to a limit; a larger body is refused without buffering the rest. */
import type { IncomingMessage } from 'node:http';
import { readLimitedBody } from '../core/read-body.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';

export function tooLarge(limit: number): WardenError {
  return new WardenError('body_too_large', `Request body exceeds the limit of ${limit} bytes`, JsonRpcCode.InvalidRequest, 413);
}

export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return readLimitedBody(req, limit, () => tooLarge(limit));
}
