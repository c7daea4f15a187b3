/** Store interfaces. Two backends (SQLite, PostgreSQL) implement them and pass one shared test suite. */
import type { AuditStore } from './audit-types.js';
import type { KeyStore, ReplayStore, TokenStore } from './identity-types.js';
import type { IntegrityStore } from './pin-types.js';
import type { RevocationStore } from './revocation-types.js';
import type { SecretStore } from './secret-types.js';
import type { SessionStore } from './session-types.js';
import type { ApprovalStore, LeaseStore, TaskStore } from './task-types.js';

/* Each area's interfaces live in their own file; re-exported here so every import of ./types.js keeps working. */
export type * from './audit-types.js';
export type * from './identity-types.js';
export type * from './secret-types.js';
export type * from './task-types.js';
export type * from './revocation-types.js';
export type * from './session-types.js';
export type * from './pin-types.js';

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly sessions: SessionStore;
  /** Where it lives, safe to print (a PostgreSQL URL has its password removed). */
  readonly location: string;
  readonly audit: AuditStore;
  readonly keys: KeyStore;
  readonly replay: ReplayStore;
  readonly tokens: TokenStore;
  readonly secrets: SecretStore;
  readonly tasks: TaskStore;
  readonly approvals: ApprovalStore;
  readonly leases: LeaseStore;
  readonly revocations: RevocationStore;
  readonly integrity: IntegrityStore;
  /** False once closed. Cheap and synchronous: checked before a call is forwarded, so a closed store refuses it. */
  isOpen(): boolean;
  /** The schema version after migrations. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
