export { callDigest, type ApprovableCall } from './digest.js';
export { ApprovalService, type ApprovalOptions, type HoldHooks, type HoldRequest } from './service.js';
export { CallSealer, SealedCallUnreadable } from './sealed-call.js';
export { readShownCall, type ShownCall } from './shown-call.js';
export { jsonBytes, literal, printable, renderCall } from './call-view.js';
