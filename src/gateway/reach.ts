/**
 * What each upstream may reach on the gateway's machine, as the operator configured it: its roots (which the
 * gateway itself answers `roots/list` with; a client's roots pass only where the operator opted in), the
 * directories relative path arguments resolve against, and, for a stdio upstream (which sees the gateway's
 * filesystem), symlink resolution and the guard on the gateway's own files. A remote upstream's filesystem
 * is out of the gateway's sight: its paths are canonicalised lexically only.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isStdioServer, type ServerConfig } from '../config/index.js';
import { canonicalUri } from '../policy/index.js';
import { namedPaths, realish, rootPath, within, type GatewayFile } from './gateway-files.js';

export interface Root {
  uri: string;
  name: string;
}

export interface Reach {
  /** Absolute directories (real paths where they exist): configured `roots`, else a stdio upstream's directory arguments. */
  roots: readonly string[];
  /** The configured roots as `roots/list` answers them; empty: the gateway declares no roots capability upstream. */
  advertised: readonly Root[];
  /** A client's roots pass, each inside the configured ones and allowed by policy (`use_root`). */
  clientRoots: boolean;
  /** A stdio upstream: it sees this filesystem, so symlinks are resolved and the gateway's files are guarded. */
  local: boolean;
  /** The operator let it reach the gateway's own files. */
  gatewayFiles: boolean;
}

const isDirectory = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

export const rootOf = (path: string): Root => ({ uri: pathToFileURL(path).href, name: basename(path) || path });

/**
 * The real path of `p` (absolute): resolved where it exists, else its nearest existing ancestor's plus the
 * rest. Synchronous on purpose: one realpath(3) is about 4 µs on a local disk, a round trip through the
 * thread pool about 35 µs (p99 2 ms under load), on every call of a filesystem upstream.
 */
export function resolveReal(p: string): string {
  return realish(p);
}

export class Confinement {
  private readonly reaches = new Map<string, Reach>();

  constructor(
    servers: ReadonlyMap<string, ServerConfig>,
    private readonly baseDir: string,
    private readonly files: readonly GatewayFile[] = [],
  ) {
    this.update(servers);
  }

  /** The upstreams changed (a config reload): each one's reach is computed again, none is kept from before. */
  update(servers: ReadonlyMap<string, ServerConfig>): void {
    this.reaches.clear();
    for (const [name, server] of servers) this.reaches.set(name, reachOf(server, this.baseDir));
  }

  reach(upstream: string): Reach {
    return this.reaches.get(upstream) ?? { roots: [], advertised: [], clientRoots: false, local: false, gatewayFiles: false };
  }

  /** `path` (absolute, canonical) as the upstream's filesystem resolves it: symlinks followed for a stdio upstream. */
  resolve(upstream: string, path: string): string {
    return this.reach(upstream).local && path.startsWith('/') ? resolveReal(path) : path;
  }

  /** What of the gateway's own files `path` (resolved) is or lies in, when the upstream may not reach them. */
  gatewayFile(upstream: string, path: string): GatewayFile | undefined {
    const r = this.reach(upstream);
    if (!r.local || r.gatewayFiles || !path.startsWith('/')) return undefined;
    return this.files.find((f) => within(path, f.path));
  }

  /** True when the upstream has configured roots and `path` (absolute, resolved) lies in none of them. */
  outsideRoots(upstream: string, path: string): boolean {
    const r = this.reach(upstream);
    return r.advertised.length > 0 && path.startsWith('/') && !r.roots.some((root) => within(path, root));
  }

  /** A client root intersected with the upstream's configured roots: the deeper of the two where one holds the other. */
  intersect(upstream: string, path: string): string[] {
    const out = new Set<string>();
    for (const root of this.reach(upstream).advertised.map((r) => r.uri)) {
      const configured = decodeURIComponent(new URL(root).pathname);
      if (within(path, configured)) out.add(path);
      else if (within(configured, path)) out.add(configured);
    }
    return [...out];
  }
}

function reachOf(server: ServerConfig, baseDir: string): Reach {
  const local = isStdioServer(server);
  // A remote upstream's roots name its own filesystem: taken as written, not resolved against this one.
  const configured = (server.roots ?? []).map((r) => rootPath(r, baseDir)).filter((p): p is string => p !== undefined).map((p) => (local ? realish(p) : p));
  // Without configured roots, a stdio upstream's directory arguments are where it works (server-filesystem's dirs).
  const implicit = local && configured.length === 0 ? namedPaths(server, baseDir).filter(([place]) => place.startsWith('args.')).map(([, p]) => realish(p)).filter(isDirectory) : [];
  return {
    roots: configured.length > 0 ? configured : [...new Set(implicit)],
    advertised: configured.map(rootOf),
    clientRoots: server.clientRoots === true,
    local,
    gatewayFiles: server.allowGatewayFiles === true,
  };
}

/**
 * A client's `roots/list` answer narrowed to the roots `upstream` is configured with: each file root, in
 * canonical form, intersected with them. What is left still needs the policy's `use_root` decision.
 */
export function narrowClientRoots(confinement: Confinement, upstream: string, answer: Record<string, unknown>): Set<string> {
  const candidates = new Set<string>();
  for (const root of Array.isArray(answer.roots) ? answer.roots : []) {
    const uri = typeof root === 'object' && root !== null ? (root as Record<string, unknown>).uri : undefined;
    if (typeof uri !== 'string') continue;
    try {
      const canonical = canonicalUri(uri);
      if (!canonical.startsWith('file://')) continue;
      const path = confinement.resolve(upstream, fileURLToPath(canonical).replace(/(.)\/$/, '$1'));
      for (const p of confinement.intersect(upstream, path)) candidates.add(p);
    } catch {
      // A root with no single meaning is not passed on.
    }
  }
  return candidates;
}
