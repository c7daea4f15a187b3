/** Session store interfaces: downstream sessions and the signals replicas send about them. */

/** A downstream session as any replica needs it; bound to the digest of the principal that opened it. */
export interface SessionRecord {
  id: string;
  /** sha256 (hex) of the opener's principal key: only the same principal may use the session. */
  ownerDigest: string;
  protocolVersion: string;
  clientInfo: Record<string, unknown>;
  clientCapabilities: Record<string, unknown>;
  createdAt: string;
  lastSeenAt: string;
}

/** What one replica tells the others about a session: it ended, a message for its GET stream, a client's answer or cancel. */
export type SessionSignalKind = 'end' | 'stream' | 'response' | 'cancel';
export interface SessionSignal {
  id: string;
  sessionId: string;
  kind: SessionSignalKind;
  /** JSON text (the message), '' for end. */
  payload: string;
  createdAt: string;
}

export interface SessionSignalFeed {
  close(): Promise<void>;
}

export interface SessionStore {
  create(r: SessionRecord): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  /** Records a use; false when the session is gone. */
  touch(id: string, at: string): Promise<boolean>;
  /** Ends the session (every replica hears of it where signals are supported); false when it was not there. */
  end(id: string, at: string): Promise<boolean>;
  /** Deletes sessions last used before `before`, and signals older than `signalsBefore`; returns the sessions' ids. */
  prune(before: string, signalsBefore: string): Promise<string[]>;
  /** Where several replicas share the store (PostgreSQL): a signal to every replica. */
  publish?(s: Omit<SessionSignal, 'createdAt'>, at: string): Promise<void>;
  subscribe?(onSignal: (s: SessionSignal) => void, onLost: (err: Error) => void): Promise<SessionSignalFeed>;
}
