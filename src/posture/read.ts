/**
 * Finding and reading client configs: the known per-user and project locations (no PATH), or the files
 * and folders named. A file that cannot be read or parsed is reported as unreadable and the scan goes on.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { readDocument, type ParsedDocument } from './document.js';
import {
  classify,
  continueBlocks,
  projectCandidates,
  userCandidates,
  walk,
  type Candidate,
  type LocationEnv,
} from './locations.js';
import type { ClientConfig, UnreadableConfig } from './model.js';
import { gatewayUrlOf, looksLikeClientConfig, readServers } from './servers.js';

export interface ReadResult {
  configs: ClientConfig[];
  unreadable: UnreadableConfig[];
  /** The parsed documents by file, for the migration to edit. */
  documents: Map<string, ParsedDocument>;
}

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** The candidate files of a scan: the named paths (files as given, folders walked), else the known locations. */
export function candidates(paths: readonly string[], where: LocationEnv): Candidate[] {
  if (paths.length === 0) {
    const cwd = resolve(where.cwd);
    const list = [
      ...userCandidates(where),
      ...continueBlocks(where.home, 'user'),
      ...projectCandidates(cwd),
      ...continueBlocks(cwd, 'project'),
    ];
    return list.filter((c) => isFile(c.file));
  }
  return paths.flatMap((p) => {
    const abs = resolve(where.cwd, p);
    if (!existsSync(abs)) return [{ file: abs, client: 'generic' as const, scope: 'project' as const }];
    if (isFile(abs))
      return [classify(abs, where.home) ?? { file: abs, client: 'generic' as const, scope: 'project' as const }];
    return walk(abs, where.home);
  });
}

/** Reads one candidate; an unknown file name is accepted when its content has a client config's shape. */
export function readCandidate(c: Candidate): { config: ClientConfig; document: ParsedDocument } | UnreadableConfig {
  let text: string;
  try {
    text = readFileSync(c.file, 'utf8');
  } catch (err) {
    return {
      file: c.file,
      client: c.client,
      reason: `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  }
  let document: ParsedDocument;
  try {
    document = readDocument(c.file, text);
  } catch (err) {
    return { file: c.file, client: c.client, reason: (err as Error).message };
  }
  if (c.client === 'generic' && !looksLikeClientConfig(document.value)) {
    return {
      file: c.file,
      client: c.client,
      reason: `${basename(c.file)} is not an MCP client config (no mcpServers, servers, context_servers or mcp_servers)`,
    };
  }
  const config: ClientConfig = {
    file: c.file,
    client: c.client,
    scope: c.scope,
    format: document.format,
    servers: readServers(document, c.client),
  };
  if (c.client === 'warden') {
    const url = gatewayUrlOf(document.value);
    if (url !== undefined) config.gatewayUrl = url;
  }
  return { config, document };
}

export function readConfigs(list: readonly Candidate[]): ReadResult {
  const out: ReadResult = { configs: [], unreadable: [], documents: new Map() };
  const seen = new Set<string>();
  for (const c of list) {
    if (seen.has(c.file)) continue;
    seen.add(c.file);
    const r = readCandidate(c);
    if ('reason' in r) out.unreadable.push(r);
    else {
      out.configs.push(r.config);
      out.documents.set(r.config.file, r.document);
    }
  }
  return out;
}
