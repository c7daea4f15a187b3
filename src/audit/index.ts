export type { AuditEvent, AuditOutcome } from './event.js';
export { argsDigest, canonicalJson } from './digest.js';
export { AuditRecorder, type AuditDraft } from './recorder.js';
export { foldIntents } from './trace.js';
