/** The admin HTTP API for approvers and operators (`/admin/...`), and the config rule it starts under. */
export { AdminApi } from './api.js';
export { checkAdminConfig } from './config.js';
export type { AdminOptions, AdminServices } from './context.js';
