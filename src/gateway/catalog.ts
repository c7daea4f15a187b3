/**
 * The federated view of one session's upstreams: tools, prompts, resources and templates listed from each,
 * renamed for exposure, and the map back from an exposed name or URI to its upstream. Lists are cached per
 * upstream until it says they changed or it reconnects.
 */
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import { exposedName } from './naming.js';

export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

export interface Entry {
  upstream: string;
  /** The name (tools, prompts) or URI (resources) as the upstream knows it. */
  original: string;
  /** The item as the client sees it. */
  item: Record<string, unknown>;
}

export interface NamingPolicy {
  separator: string;
  prefix: 'auto' | 'always' | 'never';
  upstreamCount: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keeps only well-formed items: an upstream that lies must not poison the federated list. */
export function validItems(kind: ListKind, items: unknown): Record<string, unknown>[] {
  if (!Array.isArray(items)) return [];
  return items.filter((it): it is Record<string, unknown> => {
    if (!isObject(it)) return false;
    switch (kind) {
      case 'tools':
        return typeof it.name === 'string' && it.name.length > 0 && isObject(it.inputSchema);
      case 'prompts':
        return typeof it.name === 'string' && it.name.length > 0;
      case 'resources':
        return typeof it.uri === 'string' && typeof it.name === 'string';
      case 'resourceTemplates':
        return typeof it.uriTemplate === 'string' && typeof it.name === 'string';
    }
  });
}

export class Catalog {
  /** Raw lists per upstream and kind. */
  private readonly lists = new Map<string, Map<ListKind, Record<string, unknown>[]>>();
  /** Exposed entries per kind with a by-key index, rebuilt only after a list changes (calls resolve on the hot path). */
  private readonly memo = new Map<ListKind, { entries: Entry[]; byKey: Map<string, Entry> }>();

  constructor(private readonly naming: NamingPolicy) {}

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

  has(upstream: string, kind: ListKind): boolean {
    return this.lists.get(upstream)?.has(kind) ?? false;
  }

  set(upstream: string, kind: ListKind, items: Record<string, unknown>[]): void {
    let m = this.lists.get(upstream);
    if (!m) this.lists.set(upstream, (m = new Map()));
    m.set(kind, items);
    this.memo.delete(kind);
  }

  invalidate(upstream: string, kind?: ListKind): void {
    if (kind) {
      this.lists.get(upstream)?.delete(kind);
      this.memo.delete(kind);
    } else {
      this.lists.delete(upstream);
      this.memo.clear();
    }
  }

  /** The upstream order or the naming changed (a config reload): exposed names are rebuilt from the lists kept. */
  rebuild(): void {
    this.memo.clear();
  }

  /** The exposed entries of one kind across upstreams, in upstream order; on a name collision the first wins. */
  entries(kind: ListKind, upstreamOrder: readonly string[]): Entry[] {
    return this.index(kind, upstreamOrder).entries;
  }

  private index(kind: ListKind, upstreamOrder: readonly string[]): { entries: Entry[]; byKey: Map<string, Entry> } {
    const cached = this.memo.get(kind);
    if (cached) return cached;
    const entries: Entry[] = [];
    const byKey = new Map<string, Entry>();
    for (const upstream of upstreamOrder) {
      for (const raw of this.lists.get(upstream)?.get(kind) ?? []) {
        const entry = this.expose(kind, upstream, raw);
        const key = kind === 'resourceTemplates' ? String(entry.item.uriTemplate) : kind === 'resources' ? String(entry.item.uri) : String(entry.item.name);
        if (byKey.has(key)) continue;
        byKey.set(key, entry);
        entries.push(entry);
      }
    }
    const built = { entries, byKey };
    this.memo.set(kind, built);
    return built;
  }

  private expose(kind: ListKind, upstream: string, raw: Record<string, unknown>): Entry {
    if (kind === 'tools' || kind === 'prompts') {
      const original = raw.name as string;
      return { upstream, original, item: { ...raw, name: exposedName(upstream, original, this.prefixed, this.naming.separator) } };
    }
    // Resource URIs stay as the upstream wrote them: they are addresses, and clients show them to users.
    const original = (kind === 'resources' ? raw.uri : raw.uriTemplate) as string;
    return { upstream, original, item: raw };
  }

  /** Finds the upstream and original name behind an exposed tool or prompt name. */
  resolveName(kind: 'tools' | 'prompts', exposed: string, upstreamOrder: readonly string[]): Entry | undefined {
    return this.index(kind, upstreamOrder).byKey.get(exposed);
  }

  /** Finds the upstream serving a resource URI: a listed resource, else a matching template. */
  resolveUri(uri: string, upstreamOrder: readonly string[]): string | undefined {
    const listed = this.index('resources', upstreamOrder).byKey.get(uri);
    if (listed) return listed.upstream;
    return this.entries('resourceTemplates', upstreamOrder).find((e) => templateMatches(e.original, uri))?.upstream;
  }
}

/** RFC 6570 templates as the MCP servers use them: `{var}` is one path segment, `{+var}`/`{var*}` any text. */
export function templateMatches(template: string, uri: string): boolean {
  let pattern = '';
  let last = 0;
  for (const m of template.matchAll(/\{([+#./;?&]?)([^}]*)\}/g)) {
    pattern += escapeRegExp(template.slice(last, m.index));
    const op = m[1];
    const explode = (m[2] ?? '').endsWith('*');
    pattern += op === '+' || op === '#' || explode ? '.*' : op === '?' || op === '&' ? '(?:[?&].*)?' : '[^/?#]*';
    last = (m.index ?? 0) + m[0].length;
  }
  pattern += escapeRegExp(template.slice(last));
  return new RegExp(`^${pattern}$`).test(uri);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function unknownName(kind: 'tools' | 'prompts', name: string): WardenError {
  return kind === 'tools'
    ? new WardenError('unknown_tool', `Unknown tool: ${name}`, JsonRpcCode.InvalidParams)
    : new WardenError('unknown_prompt', `Unknown prompt: ${name}`, JsonRpcCode.InvalidParams);
}
