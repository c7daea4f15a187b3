/** Reading the claims an access token carries into the parts of a Principal. */
import type { JWTPayload } from 'jose';

export function scopesOf(claims: JWTPayload): string[] {
  const scope = claims.scope ?? claims.scp;
  if (typeof scope === 'string') return scope.split(' ').filter(Boolean);
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === 'string');
  return [];
}

/**
 * A claim that is a non-empty, well-formed string. A lone surrogate (JSON allows `"\ud800"`) is not text:
 * stored and read back it turns into U+FFFD, so an identity holding one would not be the one recorded.
 */
export function stringClaim(claims: JWTPayload, name: string): string | null {
  const v = claims[name];
  return isText(v) ? v : null;
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && (v as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** The `act` chain, outermost (current actor) first; each hop's `sub`. */
export function actChain(claims: JWTPayload, maxDepth = 32): string[] {
  const out: string[] = [];
  let act = claims.act as Record<string, unknown> | undefined;
  while (act && typeof act === 'object' && out.length <= maxDepth) {
    if (!isText(act.sub)) break;
    out.push(act.sub);
    act = act.act as Record<string, unknown> | undefined;
  }
  return out;
}
