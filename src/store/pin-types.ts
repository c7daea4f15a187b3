/** Integrity store interfaces: pinned tool and prompt definitions. */

export type PinKind = 'tool' | 'prompt';
/** approved: the pin (one per name); pending: waits for an operator; rejected: refused; superseded: an earlier pin. */
export type PinState = 'approved' | 'pending' | 'rejected' | 'superseded';

/** A tool or prompt definition an upstream served, by digest (see src/integrity/). */
export interface PinRecord {
  upstream: string;
  kind: PinKind;
  /** The name as the upstream knows it. */
  name: string;
  /** sha256 over the canonical JSON of the definition. */
  digest: string;
  /** The canonical JSON of the definition, for `warden tools diff`. */
  definition: string;
  /** Finding ids of the poisoning checks when it was first seen. */
  findings: string[];
  state: PinState;
  firstSeenAt: string;
  decidedAt: string | null;
  /** Who decided: an operator, or `trust-on-first-use`. */
  decidedBy: string | null;
}

export interface PinFilter {
  upstream?: string;
  state?: PinState;
}

/** Tool integrity pins, shared by every replica (migration 19). */
export interface IntegrityStore {
  /** By upstream, kind, name, then first seen. */
  list(filter?: PinFilter): Promise<PinRecord[]>;
  /**
   * Records a definition seen for the first time (nothing happens for a digest already recorded). A record
   * offered as `approved` (trust on first use) is kept as `pending` when the name has an approved pin already.
   * Returns the stored record and whether it was created.
   */
  observe(r: PinRecord): Promise<{ record: PinRecord; created: boolean }>;
  /**
   * An operator's decision on one recorded digest. Approving it supersedes the pin it replaces (one statement);
   * rejecting applies only to a pending one. Undefined when there was nothing to decide.
   */
  decide(upstream: string, kind: PinKind, name: string, digest: string, state: 'approved' | 'rejected', by: string, at: string): Promise<PinRecord | undefined>;
  /** A cheap fingerprint of every pin's state: it changes whenever a definition is recorded or decided. */
  version(): Promise<string>;
}
