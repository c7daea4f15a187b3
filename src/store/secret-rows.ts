/**
 * Row mappings for vault secrets, shared by both backends. Scope columns are NULL when unscoped; rows are
 * matched on COALESCE(column, '') so the unique index (which is on those expressions) serves every lookup,
 * and a scope value is never the empty string (checked here and by a CHECK constraint).
 */
import { checkIso } from './identity-rows.js';
import type { SecretFilter, SecretIdentity, SecretMetadata, SecretRecord, SecretWrap } from './types.js';

export const SECRET_COLUMNS = [
  'name',
  'tenant',
  'environment',
  'upstream',
  'version',
  'key_id',
  'wrapped_key',
  'iv',
  'ciphertext',
  'tag',
  'created_at',
  'updated_at',
] as const;

export interface SecretRow {
  name: string;
  tenant: string | null;
  environment: string | null;
  upstream: string | null;
  version: number | string;
  key_id: string;
  wrapped_key: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  created_at: string;
  updated_at: string;
}

export type MetadataRow = Pick<SecretRow, 'name' | 'tenant' | 'environment' | 'upstream' | 'version' | 'key_id' | 'updated_at'> & {
  first_created_at: string;
};

export type WrapRow = Pick<SecretRow, 'name' | 'tenant' | 'environment' | 'upstream' | 'version' | 'key_id' | 'wrapped_key'>;

/** The scope dimensions, in the order every query binds them. */
export const SCOPE_COLUMNS = ['tenant', 'environment', 'upstream'] as const;

/** `name = ? AND COALESCE(tenant, '') = ? AND ...`, with `p(i)` naming the i-th (1-based) parameter. */
export function identityWhere(p: (i: number) => string, alias = ''): string {
  const scope = SCOPE_COLUMNS.map((c, i) => `COALESCE(${alias}${c}, '') = ${p(i + 2)}`);
  return [`${alias}name = ${p(1)}`, ...scope].join(' AND ');
}

/** The four values `identityWhere` binds. */
export function identityParams(id: SecretIdentity): [string, string, string, string] {
  checkIdentity(id);
  return [id.name, id.tenant ?? '', id.environment ?? '', id.upstream ?? ''];
}

/** Throws a RangeError for an identity no vault would write: an empty name or an empty scope string. */
export function checkIdentity(id: SecretIdentity): void {
  if (typeof id.name !== 'string' || id.name === '') throw new RangeError('a secret needs a name');
  for (const c of SCOPE_COLUMNS) {
    const v = id[c];
    if (v !== null && (typeof v !== 'string' || v === '')) throw new RangeError(`secret ${c} must be null or a non-empty string`);
  }
}

/** The WHERE clause and values of a list filter; `p(i)` names the i-th (1-based) parameter. */
export function filterWhere(filter: SecretFilter, p: (i: number) => string): { where: string; values: string[]; mask: string } {
  const parts: string[] = [];
  const values: string[] = [];
  let mask = '';
  if (filter.name !== undefined) {
    values.push(filter.name);
    parts.push(`s.name = ${p(values.length)}`);
    mask += 'n';
  }
  for (const c of SCOPE_COLUMNS) {
    const v = filter[c];
    if (v === undefined) continue;
    if (v === '') throw new RangeError(`secret filter ${c} must be null or a non-empty string`);
    values.push(v ?? '');
    parts.push(`COALESCE(s.${c}, '') = ${p(values.length)}`);
    mask += c[0];
  }
  return { where: parts.length === 0 ? 'TRUE' : parts.join(' AND '), values, mask: mask || 'all' };
}

/** Latest version of each secret plus the creation time of its oldest stored version, for `list`. */
export function listSql(where: string): string {
  const same = (a: string, b: string) =>
    [`${a}.name = ${b}.name`, ...SCOPE_COLUMNS.map((c) => `COALESCE(${a}.${c}, '') = COALESCE(${b}.${c}, '')`)].join(' AND ');
  return `SELECT s.name, s.tenant, s.environment, s.upstream, s.version, s.key_id, s.created_at AS updated_at,
      (SELECT min(f.created_at) FROM warden_secrets f WHERE ${same('f', 's')}) AS first_created_at
    FROM warden_secrets s
    WHERE ${where} AND NOT EXISTS (SELECT 1 FROM warden_secrets n WHERE ${same('n', 's')} AND n.version > s.version)
    ORDER BY s.name, COALESCE(s.tenant, ''), COALESCE(s.environment, ''), COALESCE(s.upstream, '')`;
}

export const WRAP_ORDER = "name, COALESCE(tenant, ''), COALESCE(environment, ''), COALESCE(upstream, ''), version";

export function secretToRow(r: SecretRecord): SecretRow {
  checkIdentity(r);
  if (!Number.isInteger(r.version) || r.version < 1) throw new RangeError('secret version must be a positive whole number');
  checkIso(r.createdAt, 'createdAt');
  checkIso(r.updatedAt, 'updatedAt');
  return {
    name: r.name,
    tenant: r.tenant,
    environment: r.environment,
    upstream: r.upstream,
    version: r.version,
    key_id: r.keyId,
    wrapped_key: r.wrappedKey,
    iv: r.iv,
    ciphertext: r.ciphertext,
    tag: r.tag,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

const identityFromRow = (r: Pick<SecretRow, 'name' | 'tenant' | 'environment' | 'upstream'>): SecretIdentity => ({
  name: r.name,
  tenant: r.tenant,
  environment: r.environment,
  upstream: r.upstream,
});

export function secretFromRow(r: SecretRow): SecretRecord {
  return {
    ...identityFromRow(r),
    version: Number(r.version),
    keyId: r.key_id,
    wrappedKey: r.wrapped_key,
    iv: r.iv,
    ciphertext: r.ciphertext,
    tag: r.tag,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function metadataFromRow(r: MetadataRow): SecretMetadata {
  return { ...identityFromRow(r), version: Number(r.version), keyId: r.key_id, createdAt: r.first_created_at, updatedAt: r.updated_at };
}

export function wrapFromRow(r: WrapRow): SecretWrap {
  return { ...identityFromRow(r), version: Number(r.version), keyId: r.key_id, wrappedKey: r.wrapped_key };
}

/** Checks a `wrappedByOther` page size. */
export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new RangeError('limit must be a whole number from 1 to 10000');
}
