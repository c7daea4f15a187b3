/**
 * The request-path side of tool integrity. For each listed tool or prompt it computes the definition digest
 * and the poisoning findings, records unseen digests in the store (the pin, or a pending change), and answers
 * on the hot path, from memory, whether a listed definition may be shown and called. Pins are shared by
 * replicas through the store and re-read at most every `refreshMs` (and at once after a local decision).
 */
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { IntegrityStore, PinKind, PinRecord } from '../store/types.js';
import { definitionText, digestOf } from './definition.js';
import { highest, severityRank, type Finding } from './rules.js';
import { otherToolIndex, scanDefinition, type OtherTool, type ScanContext } from './scan.js';

export type IntegrityMode = 'pin' | 'trust-on-first-use' | 'off';

export interface IntegritySettings {
  maxDescriptionChars: number;
  allowedHosts: readonly string[];
  scanResults: boolean;
  refreshMs: number;
}

/** What the guard learned about one listed definition; kept with the catalog entry. */
export interface Assessed {
  kind: PinKind;
  digest: string;
  findings: Finding[];
  /** Other servers this definition shadows. */
  shadows: string[];
  /** The canonical definition (what a pin stores). */
  text?: string;
}

/** What policies read as `resource.integrity`. */
export interface IntegrityFacts {
  findings: readonly string[];
  severity: string;
  severityRank: number;
  shadows: readonly string[];
}

export const NO_FACTS: IntegrityFacts = { findings: [], severity: 'none', severityRank: 0, shadows: [] };

export function factsOf(a: Assessed | undefined): IntegrityFacts {
  if (a === undefined) return NO_FACTS;
  const severity = highest(a.findings);
  return { findings: [...new Set(a.findings.map((f) => f.id))].sort(), severity, severityRank: severityRank(severity), shadows: a.shadows };
}

export type PinStatus = 'approved' | 'first-use' | 'off' | 'pending' | 'rejected' | 'superseded' | 'unknown';

/** An event for the audit log: a definition pinned, changed, new (pin mode), approved, rejected, or the store failing. */
export interface IntegrityEvent {
  event: 'pinned' | 'changed' | 'new' | 'approved' | 'rejected' | 'unavailable';
  upstream: string;
  kind: PinKind;
  name: string;
  digest: string;
  /** The pin a changed definition differs from. */
  previous?: string | undefined;
  findings: readonly string[];
  by?: string | undefined;
}

export interface GuardOptions {
  store: IntegrityStore | undefined;
  mode: (upstream: string) => IntegrityMode;
  settings: () => IntegritySettings;
  /** Hosts an upstream's own URLs may name besides `allowedHosts` (its own URL's host). */
  ownHosts: (upstream: string) => readonly string[];
  onEvent: (e: IntegrityEvent) => void;
  now?: () => number;
}

const MEMO_LIMIT = 20_000;
/** Pending definitions kept per upstream: one that serves a new definition on every list cannot fill the store. */
export const MAX_PENDING_PER_UPSTREAM = 200;
const LIST_MEMO_LIMIT = 16;
const keyOf = (kind: PinKind, name: string) => `${kind}\u0000${name}`;
const VISIBLE: ReadonlySet<PinStatus> = new Set(['approved', 'first-use', 'off']);

export class IntegrityGuard {
  /** Pins by upstream, then kind+name. */
  private pins = new Map<string, Map<string, PinRecord[]>>();
  private loadedAt = -Infinity;
  private loaded = false;
  private version = '';
  /** Assessments by what was listed (raw JSON) and what they depend on: a definition is scanned once, not per session. */
  private readonly memo = new Map<string, { digest: string; text: string; findings: Finding[]; shadows: string[] }>();
  /** Whole lists assessed, by the same key: the usual case is a list seen before. */
  private readonly lists = new Map<string, Map<string, Assessed>>();
  /** Bumped when the names other upstreams list change (shadowing checks depend on them). */
  private othersVersion = 0;
  private loading: Promise<void> | undefined;
  /** Tool names each upstream listed last (for shadowing checks), as it names them and as exposed. */
  private readonly listed = new Map<string, OtherTool[]>();
  private readonly now: () => number;
  /** Upstreams whose pending definitions reached MAX_PENDING_PER_UPSTREAM. */
  private readonly flooded = new Set<string>();

  constructor(private readonly opts: GuardOptions) {
    this.now = opts.now ?? Date.now;
  }

  get settings(): IntegritySettings {
    return this.opts.settings();
  }

  /** The upstream's mode; without a store nothing can be pinned, so definitions are only scanned. */
  mode(upstream: string): IntegrityMode {
    return this.opts.store === undefined ? 'off' : this.opts.mode(upstream);
  }

  /**
   * Re-reads the pins when they are older than refreshMs (another replica or the CLI may have decided). Once
   * loaded, the re-read runs in the background: a slow store never holds a list or a call (what was loaded
   * stands meanwhile); the first load, and a forced one, are awaited.
   */
  async fresh(force = false): Promise<void> {
    if (this.opts.store === undefined) return;
    if (!force && this.now() - this.loadedAt < this.settings.refreshMs) return;
    this.loading ??= this.reload().finally(() => (this.loading = undefined));
    if (force || !this.loaded) await this.loading;
  }

  private async reload(): Promise<void> {
    try {
      // Usually nothing changed: one fingerprint query instead of reading every pin again.
      const version = await this.opts.store!.version();
      if (this.loaded && version === this.version) {
        this.loadedAt = this.now();
        return;
      }
      const all = await this.opts.store!.list();
      this.version = version;
      const next = new Map<string, Map<string, PinRecord[]>>();
      for (const r of all) {
        let m = next.get(r.upstream);
        if (!m) next.set(r.upstream, (m = new Map()));
        const k = keyOf(r.kind, r.name);
        const list = m.get(k);
        if (list) list.push(r);
        else m.set(k, [r]);
      }
      this.pins = next;
      this.loaded = true;
      this.loadedAt = this.now();
    } catch {
      // Kept as it was: statuses of definitions never recorded stay unknown (refused), known ones stand.
      this.loadedAt = this.now() - this.settings.refreshMs / 2;
    }
  }

  private remember(r: PinRecord): void {
    let m = this.pins.get(r.upstream);
    if (!m) this.pins.set(r.upstream, (m = new Map()));
    const k = keyOf(r.kind, r.name);
    const list = (m.get(k) ?? []).filter((x) => x.digest !== r.digest);
    if (r.state === 'approved') for (const x of list) if (x.state === 'approved') x.state = 'superseded';
    list.push(r);
    m.set(k, list);
  }

  private records(upstream: string, kind: PinKind, name: string): PinRecord[] {
    return this.pins.get(upstream)?.get(keyOf(kind, name)) ?? [];
  }

  /** Where a listed definition stands: only approved, first-use and off ones are shown and called. */
  status(upstream: string, kind: PinKind, name: string, digest: string): PinStatus {
    if (this.mode(upstream) === 'off') return 'off';
    const r = this.records(upstream, kind, name).find((x) => x.digest === digest);
    if (r === undefined) return 'unknown';
    if (r.state === 'approved') return r.decidedBy === 'trust-on-first-use' ? 'first-use' : 'approved';
    return r.state;
  }

  visible(upstream: string, kind: PinKind, name: string, a: Assessed | undefined): boolean {
    return a === undefined ? this.mode(upstream) === 'off' : VISIBLE.has(this.status(upstream, kind, name, a.digest));
  }

  /** The refusal of a call to a definition that may not be used, if it may not. */
  refusal(upstream: string, kind: PinKind, name: string, a: Assessed | undefined): WardenError | undefined {
    if (a === undefined) {
      if (this.mode(upstream) === 'off') return undefined;
      return new WardenError('integrity_unavailable', `The definition of ${kind} ${name} of upstream "${upstream}" could not be checked; it is refused`, JsonRpcCode.IntegrityUnavailable);
    }
    const status = this.status(upstream, kind, name, a.digest);
    if (VISIBLE.has(status)) return undefined;
    const what = `The ${kind} ${name} of upstream "${upstream}"`;
    const short = a.digest.slice(0, 19);
    const pin = this.records(upstream, kind, name).find((x) => x.state === 'approved');
    const review = `an operator reviews it (warden tools diff ${upstream} ${name}; warden tools approve ${upstream} ${name})`;
    switch (status) {
      case 'unknown':
        if (this.flooded.has(upstream)) {
          return new WardenError('integrity_unavailable', `${what} is refused: upstream "${upstream}" has ${MAX_PENDING_PER_UPSTREAM} definitions waiting for review, and new ones are not recorded until they are decided`, JsonRpcCode.IntegrityUnavailable);
        }
        return new WardenError('integrity_unavailable', `${what} could not be checked against its pin (the store did not answer); it is refused`, JsonRpcCode.IntegrityUnavailable);
      case 'rejected':
        return new WardenError('definition_quarantined', `${what} is quarantined: an operator rejected its definition ${short}`, JsonRpcCode.DefinitionQuarantined);
      default:
        return new WardenError(
          'definition_quarantined',
          pin
            ? `${what} is quarantined: its definition changed since it was pinned (pin ${pin.digest.slice(0, 19)}, now ${short}) and is held until ${review}`
            : `${what} is quarantined: it is not pinned yet (integrity: pin) and is held until ${review}`,
          JsonRpcCode.DefinitionQuarantined,
        );
    }
  }

  /**
   * Assesses what upstreams listed (one kind): digests, findings, and records in the store every digest not
   * seen before. `exposed` gives a tool's exposed name. Returns the assessments by upstream and name.
   */
  async assess(kind: PinKind, lists: ReadonlyMap<string, readonly Record<string, unknown>[]>, exposed: (upstream: string, name: string) => string): Promise<Map<string, Map<string, Assessed>>> {
    const settings = this.settings;
    if (kind === 'tool') {
      for (const [u, items] of lists) {
        const names = items.map((i) => ({ upstream: u, name: String(i.name), exposed: exposed(u, String(i.name)) }));
        const before = this.listed.get(u);
        if (before === undefined || before.length !== names.length || before.some((b, i) => b.name !== names[i]!.name || b.exposed !== names[i]!.exposed)) this.othersVersion++;
        this.listed.set(u, names);
      }
    }
    const pinnedUpstreams = this.pins.size;
    await this.fresh();
    if (this.pins.size !== pinnedUpstreams) this.othersVersion++;
    const out = new Map<string, Map<string, Assessed>>();
    const writes: Promise<void>[] = [];
    for (const [upstream, items] of lists) {
      let ctx: ScanContext | undefined;
      const scanContext = (): ScanContext => {
        const otherServers = [...new Set([...this.listed.keys(), ...this.pins.keys()])].filter((u) => u !== upstream);
        const allowedHosts = [...settings.allowedHosts, ...this.opts.ownHosts(upstream)];
        return { upstream, others: otherToolIndex(this.otherTools(upstream)), otherServers, maxDescriptionChars: settings.maxDescriptionChars, allowedHosts };
      };
      const mode = this.mode(upstream);
      // `off`: neither pinned nor scanned, so nothing to assess (its entries carry no assessment).
      if (mode === 'off') continue;
      const prefix = JSON.stringify([upstream, kind, mode, this.othersVersion, settings.maxDescriptionChars, settings.allowedHosts, this.opts.ownHosts(upstream)]);
      // The same list again (another session, a reconnect): one lookup for the whole list.
      const listKey = `${prefix}${JSON.stringify(items)}`;
      let assessed = this.lists.get(listKey);
      if (assessed === undefined) {
        assessed = new Map<string, Assessed>();
        for (const item of items) {
          const name = String(item.name);
          const key = `${prefix}${JSON.stringify(item)}`;
          let m = this.memo.get(key);
          if (m === undefined) {
            const text = definitionText(kind, item);
            const scan = scanDefinition(kind, item, (ctx ??= scanContext()));
            m = { digest: digestOf(text), text, findings: scan.findings, shadows: scan.shadows };
            if (this.memo.size >= MEMO_LIMIT) this.memo.delete(this.memo.keys().next().value!);
            this.memo.set(key, m);
          }
          assessed.set(name, { kind, digest: m.digest, findings: m.findings, shadows: m.shadows, text: m.text });
        }
        if (this.lists.size >= LIST_MEMO_LIMIT) this.lists.delete(this.lists.keys().next().value!);
        this.lists.set(listKey, assessed);
      }
      let budget = MAX_PENDING_PER_UPSTREAM - this.pendingOf(upstream);
      for (const [name, a] of assessed) {
        if (this.status(upstream, kind, name, a.digest) !== 'unknown') continue;
        const pends = mode === 'pin' || this.records(upstream, kind, name).some((r) => r.state === 'approved');
        if (pends && budget-- <= 0) {
          // Not recorded, so refused as unchecked (fail closed) until an operator decides the backlog.
          this.flooded.add(upstream);
          continue;
        }
        writes.push(this.record(upstream, kind, name, a.text ?? '', a, mode));
      }
      out.set(upstream, assessed);
    }
    await Promise.all(writes);
    return out;
  }

  private pendingOf(upstream: string): number {
    let n = 0;
    for (const recs of this.pins.get(upstream)?.values() ?? []) for (const r of recs) if (r.state === 'pending') n++;
    return n;
  }

  private otherTools(upstream: string): OtherTool[] {
    const tools: OtherTool[] = [];
    for (const [u, list] of this.listed) if (u !== upstream) tools.push(...list);
    for (const [u, m] of this.pins) {
      if (u === upstream || this.listed.has(u)) continue;
      for (const recs of m.values()) if (recs[0]?.kind === 'tool') tools.push({ upstream: u, name: recs[0].name, exposed: recs[0].name });
    }
    return tools;
  }

  private async record(upstream: string, kind: PinKind, name: string, definition: string, a: Assessed, mode: IntegrityMode): Promise<void> {
    const at = new Date(this.now()).toISOString();
    const first = mode === 'trust-on-first-use';
    const previous = this.records(upstream, kind, name).find((x) => x.state === 'approved')?.digest;
    const ids = factsOf(a).findings;
    try {
      const { record, created } = await this.opts.store!.observe({
        upstream,
        kind,
        name,
        digest: a.digest,
        definition,
        findings: [...ids],
        state: first ? 'approved' : 'pending',
        firstSeenAt: at,
        decidedAt: first ? at : null,
        decidedBy: first ? 'trust-on-first-use' : null,
      });
      this.remember(record);
      if (!created) return;
      const event = record.state === 'approved' ? 'pinned' : previous !== undefined ? 'changed' : 'new';
      this.opts.onEvent({ event, upstream, kind, name, digest: a.digest, previous, findings: ids });
    } catch {
      this.opts.onEvent({ event: 'unavailable', upstream, kind, name, digest: a.digest, findings: ids });
    }
  }

  /**
   * An operator's decision on a recorded definition (`digest`, or the one pending for the name). Returns the
   * decided record; throws a WardenError when there is nothing to decide or the choice is ambiguous.
   */
  async decide(upstream: string, kind: PinKind, name: string, digest: string | undefined, state: 'approved' | 'rejected', by: string): Promise<PinRecord> {
    if (this.opts.store === undefined) throw new WardenError('integrity_unavailable', 'This gateway keeps no pins', JsonRpcCode.IntegrityUnavailable);
    const r = await decidePin(this.opts.store, { upstream, kind, name, digest, state, by, at: new Date(this.now()).toISOString() });
    await this.fresh(true);
    this.opts.onEvent({ event: state, upstream, kind, name, digest: r.digest, findings: r.findings, by });
    return r;
  }
}

/** Decides one pin in the store (shared by the admin API and `warden tools approve|reject`). */
export async function decidePin(
  store: IntegrityStore,
  d: { upstream: string; kind: PinKind; name: string; digest: string | undefined; state: 'approved' | 'rejected'; by: string; at: string },
): Promise<PinRecord> {
  const recs = (await store.list({ upstream: d.upstream })).filter((r) => r.kind === d.kind && r.name === d.name);
  const want = d.digest;
  // A digest may be given in full or by a prefix of at least 8 hex digits (with or without `sha256:`).
  const matches = (digest: string) => want !== undefined && want.replace(/^sha256:/, '').length >= 8 && digest.startsWith(`sha256:${want.replace(/^sha256:/, '')}`);
  const chosen = want !== undefined ? recs.filter((r) => matches(r.digest)) : recs.filter((r) => r.state === 'pending');
  if (chosen.length === 0) throw new WardenError('invalid_params', `No ${d.digest === undefined ? 'pending ' : ''}definition of ${d.kind} ${d.name} of upstream "${d.upstream}"${d.digest ? ` with digest ${d.digest}` : ''}`, JsonRpcCode.InvalidParams);
  if (chosen.length > 1) throw new WardenError('invalid_params', `Several definitions of ${d.kind} ${d.name} match; name one by its digest`, JsonRpcCode.InvalidParams);
  const decided = await store.decide(d.upstream, d.kind, d.name, chosen[0]!.digest, d.state, d.by, d.at);
  if (decided === undefined) throw new WardenError('invalid_params', `The definition ${chosen[0]!.digest.slice(0, 19)} of ${d.name} is ${chosen[0]!.state}: nothing to ${d.state === 'approved' ? 'approve' : 'reject'}`, JsonRpcCode.InvalidParams);
  return decided;
}
