/**
 * What a task (or a session without one) has read: findings in tool results, by the tools that returned
 * them. Policies read it as `context.taint`, so a task that read untrusted content can be stopped from
 * writing. Kept in memory per replica, bounded (oldest keys dropped first).
 */
export interface Taint {
  untrusted: boolean;
  findings: readonly string[];
  /** Exposed names of the tools whose results held findings. */
  sources: readonly string[];
}

export const CLEAN: Taint = { untrusted: false, findings: [], sources: [] };

export class TaintLedger {
  private readonly byKey = new Map<string, { findings: Set<string>; sources: Set<string> }>();

  constructor(private readonly limit = 10_000) {}

  get(key: string | null): Taint {
    const t = key === null ? undefined : this.byKey.get(key);
    return t === undefined ? CLEAN : { untrusted: true, findings: [...t.findings].sort(), sources: [...t.sources].sort() };
  }

  add(key: string | null, source: string, findings: readonly string[]): void {
    if (key === null || findings.length === 0) return;
    let t = this.byKey.get(key);
    if (t === undefined) {
      if (this.byKey.size >= this.limit) this.byKey.delete(this.byKey.keys().next().value!);
      this.byKey.set(key, (t = { findings: new Set(), sources: new Set() }));
    }
    for (const f of findings) t.findings.add(f);
    t.sources.add(source);
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
