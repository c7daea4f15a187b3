/**
 * Console roles: `viewer` < `approver` < `admin`, each including the ones below it. A person gets the highest
 * role whose list (config `console.roles`) names them: an entry `group:NAME` matches one of their groups
 * (from `console.signIn.groupsClaim`), any other entry their name. Roles are resolved on every request from
 * the config in force, so removing someone from a list takes effect at once, not when their session ends.
 */
import type { ConsoleConfig } from '../config/index.js';

export type Role = 'viewer' | 'approver' | 'admin';

const RANK: Record<Role, number> = { viewer: 1, approver: 2, admin: 3 };

/** The person's role, or undefined when no list names them (they are refused everywhere). */
export function roleOf(roles: ConsoleConfig['roles'], name: string, groups: readonly string[]): Role | undefined {
  const named = (entries: readonly string[]) =>
    entries.some((e) => (e.startsWith('group:') ? groups.includes(e.slice(6)) : e === name));
  for (const role of ['admin', 'approver', 'viewer'] as const) if (named(roles[role])) return role;
  return undefined;
}

/** True when `role` includes `needed`. */
export function allows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}
