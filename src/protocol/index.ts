export * from './errors.js';
export * from './jsonrpc.js';
export * from './revisions.js';
export * from './bounded-json.js';
