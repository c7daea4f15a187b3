/**
 * Server entries out of each client's shape: `mcpServers` (Claude Desktop and Code, Cursor, Windsurf, Gemini
 * CLI, warden.yaml), `servers` (VS Code mcp.json) and `mcp.servers` (VS Code settings.json),
 * `context_servers` (Zed), `mcp_servers` (Codex TOML), and Continue's `mcpServers` list. Field spellings
 * differ per client (url, serverUrl, httpUrl; headers, http_headers, requestOptions.headers); they are
 * read into one ServerEntry with every string value as a Slot.
 */
import type { ParsedDocument } from './document.js';
import type { ClientKind, ServerEntry, Slot, SlotKind, Transport } from './model.js';
import { toPointer, type Path } from './pointer.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): Array<[string, string]> =>
  isObj(v) ? Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string') : [];

/** What a server entry says about how to start or reach it; everything else is a client-side setting. */
const LAUNCH_KEYS = new Set([
  'command',
  'args',
  'env',
  'cwd',
  'url',
  'serverUrl',
  'httpUrl',
  'headers',
  'http_headers',
  'requestOptions',
  'bearer_token',
  'bearer_token_env_var',
  'env_http_headers',
  'type',
  'transport',
  'disabled',
  'enabled',
  'name',
  'source',
]);

/** Reads one server object found at `path`. */
function readServer(doc: ParsedDocument, client: ClientKind, name: string, raw: Obj, path: Path): ServerEntry {
  const slots: Slot[] = [];
  const slot = (kind: SlotKind, slotName: string, value: string, at: Path): void => {
    slots.push({ kind, name: slotName, value, pointer: toPointer(at), position: doc.locate(at) });
  };
  // Zed's older form nests the launch under `command: { path, args, env }`.
  const launch = isObj(raw.command) ? raw.command : raw;
  const launchPath = isObj(raw.command) ? [...path, 'command'] : path;
  const command =
    typeof launch.command === 'string' ? launch.command : typeof launch.path === 'string' ? launch.path : undefined;
  if (command !== undefined)
    slot('command', 'command', command, [...launchPath, typeof launch.command === 'string' ? 'command' : 'path']);
  const args: string[] = [];
  if (Array.isArray(launch.args)) {
    launch.args.forEach((a, i) => {
      // Kept index for index with the file, so that slot names and args line up.
      const text = typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean' ? String(a) : '';
      args.push(text);
      if (typeof a === 'string') slot('arg', String(i), a, [...launchPath, 'args', i]);
    });
  }
  const env: Record<string, string> = {};
  for (const [k, v] of strings(launch.env)) {
    env[k] = v;
    slot('env', k, v, [...launchPath, 'env', k]);
  }
  const urlKey = ['url', 'serverUrl', 'httpUrl'].find((k) => typeof raw[k] === 'string');
  const url = urlKey === undefined ? undefined : (raw[urlKey] as string);
  if (urlKey !== undefined) slot('url', urlKey, url!, [...path, urlKey]);
  const headers: Record<string, string> = {};
  const headerSources: Array<[unknown, Path]> = [
    [raw.headers, [...path, 'headers']],
    [raw.http_headers, [...path, 'http_headers']],
    [isObj(raw.requestOptions) ? raw.requestOptions.headers : undefined, [...path, 'requestOptions', 'headers']],
  ];
  for (const [source, at] of headerSources) {
    for (const [k, v] of strings(source)) {
      headers[k] = v;
      slot('header', k, v, [...at, k]);
    }
  }
  // Codex names the environment variables that hold its header values; as references, they read the same as elsewhere.
  if (typeof raw.bearer_token_env_var === 'string') headers.Authorization = `Bearer \${${raw.bearer_token_env_var}}`;
  for (const [k, v] of strings(raw.env_http_headers)) headers[k] = `\${${v}}`;
  // Codex once accepted an inline bearer token; it is sent as `Authorization: Bearer <token>`.
  if (typeof raw.bearer_token === 'string') {
    headers.Authorization = `Bearer ${raw.bearer_token}`;
    slot('setting', 'bearer_token', raw.bearer_token, [...path, 'bearer_token']);
  }
  const cwd = typeof launch.cwd === 'string' ? launch.cwd : undefined;
  if (cwd !== undefined) slot('cwd', 'cwd', cwd, [...launchPath, 'cwd']);
  // Zed extensions take their credentials in `settings`.
  for (const [k, v] of Object.entries(isObj(raw.settings) ? raw.settings : {})) {
    if (typeof v === 'string') slot('setting', k, v, [...path, 'settings', k]);
    else for (const [k2, v2] of strings(v)) slot('setting', `${k}.${k2}`, v2, [...path, 'settings', k, k2]);
  }
  const declared = String(raw.type ?? raw.transport ?? '').toLowerCase();
  let transport: Transport = url === undefined ? 'stdio' : 'http';
  if (declared === 'sse' || (client === 'gemini' && urlKey === 'url')) transport = 'sse';
  if (url === undefined && command === undefined && declared === 'sse') transport = 'sse';
  const entry: ServerEntry = {
    name,
    pointer: toPointer(path),
    position: doc.locate(path),
    transport,
    args,
    env,
    headers,
    slots,
    externalAuth: ['bearer_token_env_var', 'env_http_headers', 'oauth', 'authProviderType', 'auth'].some(
      (k) => raw[k] !== undefined && raw[k] !== null,
    ),
    disabled: raw.disabled === true || raw.enabled === false,
    extraKeys: Object.keys(raw).filter((k) => !LAUNCH_KEYS.has(k)),
  };
  if (command !== undefined) entry.command = command;
  if (url !== undefined) entry.url = url;
  if (cwd !== undefined) entry.cwd = cwd;
  if (typeof raw.environment === 'string') entry.environment = raw.environment;
  const approve = autoApprove(raw);
  if (approve)
    entry.autoApprove = {
      pointer: toPointer([...path, approve]),
      position: doc.locate([...path, approve]),
      what: approve,
    };
  return entry;
}

/** The key telling the client to run tools unasked: Gemini's `trust: true`, a non-empty `alwaysAllow` or `autoApprove`. */
function autoApprove(raw: Obj): string | undefined {
  if (raw.trust === true) return 'trust';
  for (const k of ['alwaysAllow', 'autoApprove']) {
    const v = raw[k];
    if (v === true || (Array.isArray(v) && v.length > 0)) return k;
  }
  return undefined;
}

function fromMap(doc: ParsedDocument, client: ClientKind, map: unknown, path: Path): ServerEntry[] {
  if (!isObj(map)) return [];
  return Object.entries(map)
    .filter((e): e is [string, Obj] => isObj(e[1]))
    .map(([name, raw]) => readServer(doc, client, name, raw, [...path, name]));
}

/** Continue's list form: `mcpServers: [{ name, command, ... }]`; its deprecated config.json nests `transport`. */
function fromList(doc: ParsedDocument, client: ClientKind, list: unknown, path: Path): ServerEntry[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, i) => {
    if (!isObj(item)) return [];
    const name = typeof item.name === 'string' ? item.name : `#${i}`;
    if (isObj(item.transport)) return [readServer(doc, client, name, item.transport, [...path, i, 'transport'])];
    return [readServer(doc, client, name, item, [...path, i])];
  });
}

/** Every server entry of a parsed client config. */
export function readServers(doc: ParsedDocument, client: ClientKind): ServerEntry[] {
  const v = isObj(doc.value) ? doc.value : {};
  switch (client) {
    case 'vscode': {
      const mcp = isObj(v.mcp) ? v.mcp : undefined;
      return [
        ...fromMap(doc, client, v.servers, ['servers']),
        ...fromMap(doc, client, mcp?.servers, ['mcp', 'servers']),
        ...fromMap(doc, client, v['mcp.servers'], ['mcp.servers']),
      ];
    }
    case 'zed':
      return fromMap(doc, client, v.context_servers, ['context_servers']);
    case 'codex':
      return fromMap(doc, client, v.mcp_servers, ['mcp_servers']);
    case 'continue': {
      const experimental = isObj(v.experimental) ? v.experimental : {};
      const list = Array.isArray(v.mcpServers)
        ? fromList(doc, client, v.mcpServers, ['mcpServers'])
        : fromMap(doc, client, v.mcpServers, ['mcpServers']);
      return [
        ...list,
        ...fromList(doc, client, experimental.modelContextProtocolServers, [
          'experimental',
          'modelContextProtocolServers',
        ]),
      ];
    }
    case 'claude-code': {
      const projects = isObj(v.projects) ? Object.entries(v.projects) : [];
      return [
        ...fromMap(doc, client, v.mcpServers, ['mcpServers']),
        ...projects.flatMap(([dir, p]) =>
          isObj(p) ? fromMap(doc, client, p.mcpServers, ['projects', dir, 'mcpServers']) : [],
        ),
      ];
    }
    case 'gemini': {
      // Gemini CLI connects only to servers in mcp.allowed (when given) and never to those in mcp.excluded.
      const mcp = isObj(v.mcp) ? v.mcp : {};
      const listed = (k: string) =>
        Array.isArray(mcp[k]) ? (mcp[k] as unknown[]).filter((n): n is string => typeof n === 'string') : undefined;
      const allowed = listed('allowed');
      const excluded = listed('excluded') ?? [];
      return fromMap(doc, client, v.mcpServers, ['mcpServers']).map((s) => ({
        ...s,
        disabled: s.disabled || excluded.includes(s.name) || (allowed !== undefined && !allowed.includes(s.name)),
      }));
    }
    default:
      return [...fromMap(doc, client, v.mcpServers, ['mcpServers']), ...fromMap(doc, client, v.servers, ['servers'])];
  }
}

/** Whether a parsed file has any of the shapes above (to recognise a config file with an unknown name). */
export function looksLikeClientConfig(value: unknown): boolean {
  return (
    isObj(value) &&
    ['mcpServers', 'servers', 'context_servers', 'mcp_servers'].some((k) => isObj(value[k]) || Array.isArray(value[k]))
  );
}

/** warden.yaml: where clients reach the gateway (publicUrl, else http://listen/mcp). */
export function gatewayUrlOf(value: unknown): string | undefined {
  if (!isObj(value)) return undefined;
  if (typeof value.publicUrl === 'string') return value.publicUrl;
  const listen = typeof value.listen === 'string' ? value.listen : '127.0.0.1:7400';
  return `http://${listen}/mcp`;
}
