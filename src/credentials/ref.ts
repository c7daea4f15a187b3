/**
 * Secret references: a name plus an optional scope (tenant, environment, upstream). Two secrets with one name
 * in different scopes are different secrets. Names travel in config as `${secret:NAME}`, so they are limited
 * to characters that need no escaping there.
 */
import type { SecretFilter, SecretIdentity } from '../store/types.js';
import { InvalidSecretRef } from './errors.js';

export interface SecretRef {
  name: string;
  tenant?: string | null;
  environment?: string | null;
  upstream?: string | null;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$/;
// Scope values come from tokens and config (tenant ids, environment names, upstream names): any printable text.
const SCOPE = /^[^\p{Cc}]{1,128}$/u;

function scopePart(value: string | null | undefined, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !SCOPE.test(value)) {
    throw new InvalidSecretRef(`secret ${what} must be 1-128 printable characters (omit it for an unscoped secret)`);
  }
  return value;
}

/** Checks a reference and returns the identity the store keys it by. Throws InvalidSecretRef. */
export function toIdentity(ref: SecretRef): SecretIdentity {
  if (typeof ref?.name !== 'string' || !NAME.test(ref.name)) {
    throw new InvalidSecretRef('a secret name is 1-128 of [A-Za-z0-9_./-], starting with a letter, digit or _');
  }
  return {
    name: ref.name,
    tenant: scopePart(ref.tenant, 'tenant'),
    environment: scopePart(ref.environment, 'environment'),
    upstream: scopePart(ref.upstream, 'upstream'),
  };
}

/** `tenant=acme,env=prod,upstream=github`, or `global` when unscoped. Safe to print: no value. */
export function describeScope(id: SecretIdentity): string {
  const parts = [
    id.tenant === null ? '' : `tenant=${id.tenant}`,
    id.environment === null ? '' : `env=${id.environment}`,
    id.upstream === null ? '' : `upstream=${id.upstream}`,
  ].filter(Boolean);
  return parts.length === 0 ? 'global' : parts.join(',');
}

/** `NAME (scope)`, for messages. */
export const describeSecret = (id: SecretIdentity): string => `${id.name} (${describeScope(id)})`;

/** A list filter: each field given must match; null matches only unscoped secrets. Throws InvalidSecretRef. */
export type SecretListFilter = Partial<SecretRef>;

export function toFilter(f: SecretListFilter = {}): SecretFilter {
  const out: SecretFilter = {};
  if (f.name !== undefined) out.name = toIdentity({ name: f.name }).name;
  if (f.tenant !== undefined) out.tenant = scopePart(f.tenant, 'tenant');
  if (f.environment !== undefined) out.environment = scopePart(f.environment, 'environment');
  if (f.upstream !== undefined) out.upstream = scopePart(f.upstream, 'upstream');
  return out;
}
