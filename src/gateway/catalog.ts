/**
 * The federated view of one session's upstreams: tools, prompts, resources and templates listed from each,
 * renamed for exposure, and the map back from an exposed name or URI to its upstream. Lists are cached per
 * upstream until it says they changed or it reconnects.
 */
import type { Assessed } from '../integrity/index.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import { canonicalUri } from '../policy/index.js';
import { exposedName } from './naming.js';
import { templateMatches } from './uri-template.js';

export { templateMatches };

export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

export interface Entry {
  upstream: string;
  /** The name (tools, prompts) or URI (resources) as the upstream knows it. */
  original: string;
  /** The item as the client sees it. */
  item: Record<string, unknown>;
  /** The tool integrity assessment of its definition (tools and prompts, when the gateway checks integrity). */
  integrity?: Assessed | undefined;
}

export interface NamingPolicy {
  separator: string;
  prefix: 'auto' | 'always' | 'never';
  upstreamCount: number;
}

/** Two or more listed items claim one exposed name (or URI): all of them are withheld. */
export interface Collision {
  kind: ListKind;
  /** The exposed name, resource URI (canonical) or URI template. */
  key: string;
  /** The upstreams whose items claim it, in upstream order (one name twice: one upstream listed it twice). */
  upstreams: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Longest tool or prompt name kept (MCP asks for at most 128 characters), and longest resource URI or
 * template: names are matched, classified, logged and audited, so an upstream may not make them huge.
 */
export const MAX_NAME_LENGTH = 256;
export const MAX_URI_LENGTH = 8192;

const isName = (v: unknown, max = MAX_NAME_LENGTH): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

/** Keeps only well-formed items: an upstream that lies must not poison the federated list. */
export function validItems(kind: ListKind, items: unknown): Record<string, unknown>[] {
  if (!Array.isArray(items)) return [];
  return items.filter((it): it is Record<string, unknown> => {
    if (!isObject(it)) return false;
    switch (kind) {
      case 'tools':
        return isName(it.name) && isObject(it.inputSchema);
      case 'prompts':
        return isName(it.name);
      case 'resources':
        return isName(it.uri, MAX_URI_LENGTH) && typeof it.name === 'string';
      case 'resourceTemplates':
        return isName(it.uriTemplate, MAX_URI_LENGTH) && typeof it.name === 'string';
    }
  });
}

export class Catalog {
  /** Raw lists per upstream and kind. */
  private readonly lists = new Map<string, Map<ListKind, Record<string, unknown>[]>>();
  /** Integrity assessments of listed tools and prompts, per upstream and kind, by original name. */
  private readonly assessed = new Map<string, Map<ListKind, ReadonlyMap<string, Assessed>>>();
  /** Exposed entries per kind with a by-key index, rebuilt only after a list changes (calls resolve on the hot path). */
  private readonly memo = new Map<ListKind, Index>();

  /** `onCollision` hears of every name withheld because several items claim it, each time the index is rebuilt. */
  constructor(
    private readonly naming: NamingPolicy,
    private readonly onCollision?: (c: Collision) => void,
  ) {}

  private get prefixed(): boolean {
    return this.naming.prefix === 'always' || (this.naming.prefix === 'auto' && this.naming.upstreamCount > 1);
  }

  /** The upstreams an exposed tool or prompt name could belong to (every one when names are not prefixed). */
  possibleOwners(exposed: string, upstreamOrder: readonly string[]): string[] {
    return this.prefixed ? upstreamOrder.filter((u) => exposed.startsWith(`${u}${this.naming.separator}`)) : [...upstreamOrder];
  }

  private readonly refreshedAt = new Map<ListKind, number>();

  /** True at most once per interval for each kind: forced refreshes of the lists are rate-limited. */
  mayRefresh(kind: ListKind, now = Date.now(), intervalMs = 1000): boolean {
    if (now - (this.refreshedAt.get(kind) ?? 0) < intervalMs) return false;
    this.refreshedAt.set(kind, now);
    return true;
  }

  /** The name a tool or prompt of `upstream` is exposed under. */
  exposedName(upstream: string, original: string): string {
    return exposedName(upstream, original, this.prefixed, this.naming.separator);
  }

  has(upstream: string, kind: ListKind): boolean {
    return this.lists.get(upstream)?.has(kind) ?? false;
  }

  set(upstream: string, kind: ListKind, items: Record<string, unknown>[], assessed?: ReadonlyMap<string, Assessed>): void {
    let m = this.lists.get(upstream);
    if (!m) this.lists.set(upstream, (m = new Map()));
    m.set(kind, items);
    let a = this.assessed.get(upstream);
    if (!a) this.assessed.set(upstream, (a = new Map()));
    if (assessed) a.set(kind, assessed);
    else a.delete(kind);
    this.memo.delete(kind);
  }

  invalidate(upstream: string, kind?: ListKind): void {
    if (kind) {
      this.lists.get(upstream)?.delete(kind);
      this.assessed.get(upstream)?.delete(kind);
      this.memo.delete(kind);
    } else {
      this.lists.delete(upstream);
      this.assessed.delete(upstream);
      this.memo.clear();
    }
  }

  /** The upstream order or the naming changed (a config reload): exposed names are rebuilt from the lists kept. */
  rebuild(): void {
    this.memo.clear();
  }

  /**
   * The exposed entries of one kind across upstreams, in upstream order. A name claimed by two items is never
   * routed to either: both are withheld (a resource URI listed twice by one upstream is one resource).
   */
  entries(kind: ListKind, upstreamOrder: readonly string[]): Entry[] {
    return this.index(kind, upstreamOrder).entries;
  }

  /** The collision that withholds `key`, if any. */
  collision(kind: ListKind, key: string, upstreamOrder: readonly string[]): Collision | undefined {
    return this.index(kind, upstreamOrder).withheld.get(key);
  }

  private index(kind: ListKind, upstreamOrder: readonly string[]): Index {
    const cached = this.memo.get(kind);
    if (cached) return cached;
    const claims = new Map<string, Entry[]>();
    for (const upstream of upstreamOrder) {
      for (const raw of this.lists.get(upstream)?.get(kind) ?? []) {
        const entry = this.expose(kind, upstream, raw);
        const key = keyOf(kind, entry);
        const same = claims.get(key);
        if (same === undefined) claims.set(key, [entry]);
        else if (!(kind === 'resources' && same.every((e) => e.upstream === upstream))) same.push(entry);
      }
    }
    const built: Index = { entries: [], byKey: new Map(), withheld: new Map() };
    for (const [key, claimants] of claims) {
      if (claimants.length === 1) {
        built.byKey.set(key, claimants[0]!);
        built.entries.push(claimants[0]!);
        continue;
      }
      const collision = { kind, key, upstreams: claimants.map((e) => e.upstream) };
      built.withheld.set(key, collision);
      this.onCollision?.(collision);
    }
    this.memo.set(kind, built);
    return built;
  }

  private expose(kind: ListKind, upstream: string, raw: Record<string, unknown>): Entry {
    if (kind === 'tools' || kind === 'prompts') {
      const original = raw.name as string;
      const integrity = this.assessed.get(upstream)?.get(kind)?.get(original);
      return { upstream, original, item: { ...raw, name: exposedName(upstream, original, this.prefixed, this.naming.separator) }, ...(integrity ? { integrity } : {}) };
    }
    // Resource URIs stay as the upstream wrote them: they are addresses, and clients show them to users.
    const original = (kind === 'resources' ? raw.uri : raw.uriTemplate) as string;
    return { upstream, original, item: raw };
  }

  /** Finds the upstream and original name behind an exposed tool or prompt name. */
  resolveName(kind: 'tools' | 'prompts', exposed: string, upstreamOrder: readonly string[]): Entry | undefined {
    return this.index(kind, upstreamOrder).byKey.get(exposed);
  }

  /**
   * Finds the upstream serving a resource URI (canonical): a listed resource, else the one upstream whose
   * templates match it. Throws name_collision when the URI is withheld or several upstreams' templates match.
   */
  resolveUri(uri: string, upstreamOrder: readonly string[]): string | undefined {
    const index = this.index('resources', upstreamOrder);
    const listed = index.byKey.get(uri);
    if (listed) return listed.upstream;
    const withheld = index.withheld.get(uri);
    if (withheld !== undefined) throw collisionError(withheld);
    const owners = [...new Set(this.entries('resourceTemplates', upstreamOrder).filter((e) => templateMatches(e.original, uri)).map((e) => e.upstream))];
    if (owners.length > 1) throw collisionError({ kind: 'resourceTemplates', key: uri, upstreams: owners });
    return owners[0];
  }
}

interface Index {
  entries: Entry[];
  byKey: Map<string, Entry>;
  withheld: Map<string, Collision>;
}

/** The key an item is found by: its exposed name, its canonical URI, or its template. */
function keyOf(kind: ListKind, entry: Entry): string {
  if (kind === 'tools' || kind === 'prompts') return String(entry.item.name);
  if (kind === 'resourceTemplates') return entry.original;
  try {
    return canonicalUri(entry.original);
  } catch {
    return entry.original;
  }
}

/** The error for a name (or URI) several upstream items claim; it names them all. */
export function collisionError(c: Collision): WardenError {
  const what = c.kind === 'tools' ? 'tool name' : c.kind === 'prompts' ? 'prompt name' : 'resource URI';
  const who = new Set(c.upstreams).size === 1 ? `upstream "${c.upstreams[0]}" lists it ${c.upstreams.length} times` : `upstreams ${[...new Set(c.upstreams)].map((u) => `"${u}"`).join(' and ')} all expose it`;
  return new WardenError('name_collision', `The ${what} ${c.key} is ambiguous: ${who}; it is withheld until the operator renames one`, JsonRpcCode.InvalidParams);
}

export function unknownName(kind: 'tools' | 'prompts', asked: string): WardenError {
  // The answer echoes the name only as far as any real name could go (tool and prompt names are at most 256).
  const name = asked.length > 256 ? `${asked.slice(0, 256)}… (${asked.length} characters)` : asked;
  return kind === 'tools'
    ? new WardenError('unknown_tool', `Unknown tool: ${name}`, JsonRpcCode.InvalidParams)
    : new WardenError('unknown_prompt', `Unknown prompt: ${name}`, JsonRpcCode.InvalidParams);
}
