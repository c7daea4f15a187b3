/** Reading the claims an access token carries into the parts of a Principal. */
import type { JWTPayload } from 'jose';

export function scopesOf(claims: JWTPayload): string[] {
  const scope = claims.scope ?? claims.scp;
  if (typeof scope === 'string') return scope.split(' ').filter(Boolean);
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === 'string');
  return [];
}

export function stringClaim(claims: JWTPayload, name: string): string | null {
  const v = claims[name];
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** The `act` chain, outermost (current actor) first; each hop's `sub`. */
export function actChain(claims: JWTPayload, maxDepth = 32): string[] {
  const out: string[] = [];
  let act = claims.act as Record<string, unknown> | undefined;
  while (act && typeof act === 'object' && out.length <= maxDepth) {
    if (typeof act.sub !== 'string') break;
    out.push(act.sub);
    act = act.act as Record<string, unknown> | undefined;
  }
  return out;
}
