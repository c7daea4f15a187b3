/** What the gateway says about itself to a client: its capabilities and name, per protocol revision. */
import { META_SERVER_INFO, SUPPORTED_REVISIONS } from '../protocol/revisions.js';

const CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  logging: {},
  completions: {},
};

/** The initialize result (2025-11-25 and earlier). */
export function initializeResult(protocolVersion: string, version: string): Record<string, unknown> {
  // 2025-11-25 tasks pass through to upstreams that support them (task-routes.ts).
  const tasks = { list: {}, cancel: {}, requests: { tools: { call: {} } } };
  return { protocolVersion, capabilities: { ...CAPABILITIES, tasks }, serverInfo: { name: 'mcp-warden', version } };
}

/** The server/discover result (2026-07-28). */
export function discoverResult(version: string): Record<string, unknown> {
  // 2026-07-28 names the server in the result's _meta (there is no initialize to carry serverInfo).
  return { supportedVersions: SUPPORTED_REVISIONS, capabilities: CAPABILITIES, _meta: { [META_SERVER_INFO]: { name: 'mcp-warden', version } } };
}
