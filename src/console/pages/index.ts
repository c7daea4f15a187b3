/** Every console route, page by page; each page is its own module. */
import type { Route } from '../context.js';
import { AGENT_ROUTES } from './agents.js';
import { APPROVAL_ROUTES } from './approvals.js';
import { AUDIT_ROUTES } from './audit.js';
import { OVERVIEW_ROUTES } from './overview.js';
import { POLICY_ROUTES } from './policies.js';
import { POSTURE_ROUTES } from './posture.js';
import { SECRET_ROUTES } from './secrets.js';
import { TASK_ROUTES } from './tasks.js';
import { TOOL_ROUTES } from './tools.js';
import { UPSTREAM_ROUTES } from './upstreams.js';
import { WORKFLOW_ROUTES } from './workflow.js';

export const ROUTES: readonly Route[] = [
  ...OVERVIEW_ROUTES,
  ...APPROVAL_ROUTES,
  ...AUDIT_ROUTES,
  ...WORKFLOW_ROUTES,
  ...AGENT_ROUTES,
  ...TASK_ROUTES,
  ...POLICY_ROUTES,
  ...UPSTREAM_ROUTES,
  ...TOOL_ROUTES,
  ...SECRET_ROUTES,
  ...POSTURE_ROUTES,
];
