/** A schema migration. Versions are applied in ascending order, each once, each in its own transaction. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** One or more SQL statements for the backend the list belongs to. */
  readonly sql: string;
}

/** Checks a migration list is strictly ascending, so an append with a wrong number fails loudly in tests. */
export function assertOrdered(list: readonly Migration[]): void {
  let last = 0;
  for (const m of list) {
    if (!Number.isInteger(m.version) || m.version <= last) {
      throw new Error(`migration ${m.version} (${m.name}) is out of order`);
    }
    last = m.version;
  }
}

export function latestVersion(list: readonly Migration[]): number {
  return list.length === 0 ? 0 : list[list.length - 1]!.version;
}
