/**
 * Rewrites a client config in place of its own format: the moved servers are removed and one `warden
 * connect` entry is added where they were, in the shape that client expects. Everything else in the file
 * is kept as it is written: edits are surgical (jsonc-parser edits for JSON and JSONC, so comments stay;
 * the yaml document model for YAML; whole-table line edits for TOML).
 */
import { applyEdits, modify, type FormattingOptions } from 'jsonc-parser';
import { stringify as stringifyToml } from 'smol-toml';
import { parseDocument } from 'yaml';
import type { ParsedDocument } from './document.js';
import type { ClientConfig, ServerEntry } from './model.js';
import { fromPointer } from './pointer.js';

export interface ConnectCommand {
  command: string;
  args: string[];
}

export class RewriteError extends Error {
  override readonly name = 'RewriteError';
}

type Seg = string | number;

/** The path of the item to remove for a server (Continue's legacy form nests the server under `transport`). */
function itemPath(server: ServerEntry): Seg[] {
  const path: Seg[] = fromPointer(server.pointer).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  return path[path.length - 1] === 'transport' ? path.slice(0, -1) : path;
}

const isListItem = (path: Seg[]): boolean => typeof path[path.length - 1] === 'number';

/** The gateway entry as each client spells a stdio server. */
export function gatewayEntry(
  client: ClientConfig['client'],
  connect: ConnectCommand,
  name: string,
  listForm: boolean,
  legacyContinue: boolean,
): Record<string, unknown> {
  const base = { command: connect.command, args: connect.args };
  if (legacyContinue) return { transport: { type: 'stdio', ...base } };
  if (listForm) return { name, type: 'stdio', ...base };
  if (client === 'vscode' || client === 'claude-code') return { type: 'stdio', ...base };
  if (client === 'zed') return { source: 'custom', ...base, env: {} };
  return base;
}

function indentOf(text: string): FormattingOptions {
  const m = /\n([ \t]+)\S/.exec(text);
  const indent = m?.[1] ?? '  ';
  return {
    insertSpaces: !indent.includes('\t'),
    tabSize: indent.includes('\t') ? 1 : indent.length,
    eol: text.includes('\r\n') ? '\r\n' : '\n',
  };
}

/** Containers (maps or lists) the removed servers lived in, each with whether a gateway entry must be added. */
function containersOf(removed: ServerEntry[]): Map<string, { path: Seg[]; list: boolean; legacy: boolean }> {
  const out = new Map<string, { path: Seg[]; list: boolean; legacy: boolean }>();
  for (const s of removed) {
    const item = itemPath(s);
    const path = item.slice(0, -1);
    out.set(JSON.stringify(path), { path, list: isListItem(item), legacy: s.pointer.endsWith('/transport') });
  }
  return out;
}

function rewriteJson(
  doc: ParsedDocument,
  config: ClientConfig,
  removed: ServerEntry[],
  connect: ConnectCommand,
  name: string,
  skipAdd: Set<string>,
): string {
  const formattingOptions = indentOf(doc.text);
  let text = doc.text;
  // Later list items first, so earlier indices stay valid.
  const items = removed
    .map(itemPath)
    .sort((a, b) => (isListItem(a) && isListItem(b) ? (b[b.length - 1] as number) - (a[a.length - 1] as number) : 0));
  for (const path of items) text = applyEdits(text, modify(text, path, undefined, { formattingOptions }));
  for (const [key, c] of containersOf(removed)) {
    if (skipAdd.has(key)) continue;
    const entry = gatewayEntry(config.client, connect, name, c.list, c.legacy);
    if (c.list) {
      const remaining = config.servers.filter(
        (s) => !removed.includes(s) && JSON.stringify(itemPath(s).slice(0, -1)) === key,
      ).length;
      text = applyEdits(
        text,
        modify(text, [...c.path, remaining], entry, { formattingOptions, isArrayInsertion: true }),
      );
    } else text = applyEdits(text, modify(text, [...c.path, name], entry, { formattingOptions }));
  }
  return text;
}

function rewriteYaml(
  doc: ParsedDocument,
  config: ClientConfig,
  removed: ServerEntry[],
  connect: ConnectCommand,
  name: string,
  skipAdd: Set<string>,
): string {
  const y = parseDocument(doc.text);
  const items = removed
    .map(itemPath)
    .sort((a, b) => (isListItem(a) && isListItem(b) ? (b[b.length - 1] as number) - (a[a.length - 1] as number) : 0));
  for (const path of items) y.deleteIn(path);
  for (const [key, c] of containersOf(removed)) {
    if (skipAdd.has(key)) continue;
    const entry = gatewayEntry(config.client, connect, name, c.list, c.legacy);
    if (c.list) y.addIn(c.path, y.createNode(entry));
    else y.setIn([...c.path, name], y.createNode(entry));
  }
  return y.toString();
}

/** `[mcp_servers.github.env]` -> ['mcp_servers', 'github', 'env']; undefined for a line that is not a table header. */
function tableHeader(line: string): string[] | undefined {
  const m = /^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$/.exec(line);
  if (!m) return undefined;
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/gy;
  let k: RegExpExecArray | null;
  while ((k = re.exec(m[1]!)) !== null) {
    parts.push(k[1] ?? k[2] ?? k[3]!);
    if (k[4] === '') break;
  }
  return parts;
}

function rewriteToml(
  doc: ParsedDocument,
  removed: ServerEntry[],
  connect: ConnectCommand,
  name: string,
  hasGateway: boolean,
): string {
  const lines = doc.text.split('\n');
  const drop = new Set(removed.map((s) => fromPointer(s.pointer)[1]!));
  const found = new Set<string>();
  const out: string[] = [];
  let skipping = false;
  for (const line of lines) {
    const header = tableHeader(line);
    if (header) {
      skipping = header[0] === 'mcp_servers' && header[1] !== undefined && drop.has(header[1]);
      if (skipping) found.add(header[1]!);
    }
    if (!skipping) out.push(line);
  }
  const missing = [...drop].filter((n) => !found.has(n));
  if (missing.length > 0)
    throw new RewriteError(
      `server ${missing.join(', ')} is not written as a [mcp_servers.NAME] table: move it by hand`,
    );
  let text = out.join('\n').replace(/\n{3,}/g, '\n\n');
  if (!hasGateway)
    text =
      text.replace(/\n*$/, '\n\n') +
      stringifyToml({ mcp_servers: { [name]: { command: connect.command, args: connect.args } } }) +
      '\n';
  return text;
}

/**
 * The client config's new text. `existingGateway`: the containers that already hold a gateway entry (nothing
 * is added there), by JSON of the container path.
 */
export function rewriteClient(
  doc: ParsedDocument,
  config: ClientConfig,
  removed: ServerEntry[],
  connect: ConnectCommand,
  name: string,
  existingGateway: ServerEntry[],
): string {
  if (removed.length === 0) return doc.text;
  const skipAdd = new Set(existingGateway.map((s) => JSON.stringify(itemPath(s).slice(0, -1))));
  if (doc.format === 'toml') return rewriteToml(doc, removed, connect, name, existingGateway.length > 0);
  if (doc.format === 'yaml') return rewriteYaml(doc, config, removed, connect, name, skipAdd);
  return rewriteJson(doc, config, removed, connect, name, skipAdd);
}
