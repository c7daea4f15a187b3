/** Parses a PostgreSQL store URL: masks the password for display and turns `?schema=` into a search_path. */
import { StoreError } from '../errors.js';

export interface PostgresTarget {
  /** Passed to pg only; it holds the password. */
  connectionString: string;
  /** Safe to print: postgres://user:***@host/db?... */
  location: string;
  /** Passwords in the URL (userinfo or a query parameter), to scrub from any error text. */
  secrets: string[];
  /** The schema named by `?schema=`, if any. */
  schema: string | undefined;
}

// Plain identifiers only: the name goes into DDL and into a startup option, where quoting rules differ.
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function parsePostgresUrl(spec: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    // Never echo the spec: it may hold a password.
    throw new StoreError('store_invalid_spec', 'invalid PostgreSQL URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new StoreError('store_invalid_spec', 'a PostgreSQL URL must start with postgres:// or postgresql://');
  }
  let password: string;
  try {
    password = decodeURIComponent(url.password);
  } catch {
    throw new StoreError('store_invalid_spec', 'invalid PostgreSQL URL: bad percent-encoding in the password');
  }
  const schema = url.searchParams.get('schema') ?? undefined;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new StoreError('store_invalid_spec', `invalid schema name "${schema}": use letters, digits and _`);
  }

  const masked = new URL(url.href);
  const secrets = password === '' ? [] : [password];
  if (masked.password !== '') masked.password = '***';
  // pg also takes a password as a query parameter (?password=, ?sslpassword=).
  for (const [key, value] of url.searchParams) {
    if (/pass/i.test(key)) {
      secrets.push(value);
      masked.searchParams.set(key, '***');
    }
  }
  const location = masked.href;

  // pg reads every query parameter as a connection setting, so `schema` is removed and expressed as a
  // startup option instead: every pooled connection then starts with the search_path, with no extra query.
  url.searchParams.delete('schema');
  if (schema !== undefined) {
    const existing = url.searchParams.get('options');
    url.searchParams.set('options', `${existing ? existing + ' ' : ''}-c search_path=${schema}`);
  }
  return { connectionString: url.href, location, secrets, schema };
}
