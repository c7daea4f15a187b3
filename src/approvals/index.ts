export { callDigest, type ApprovableCall } from './digest.js';
export { ApprovalService, type ApprovalOptions, type HoldHooks, type HoldRequest } from './service.js';
