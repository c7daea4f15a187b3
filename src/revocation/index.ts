/** Revocation: recording it (`revoke`) and refusing revoked principals on every replica (`RevocationList`). */
export { RevocationList, revokedError, type RevocationListOptions, type RevocationStatus } from './list.js';
export {
  isRevocationKind,
  revocationAuditFields,
  revoke,
  REVOCATION_KIND_NAMES,
  undoAuditFields,
  undoRevocation,
  type RevokeDeps,
  type RevokeRequest,
  type RevokeResult,
  type UndoRequest,
} from './revoke.js';
