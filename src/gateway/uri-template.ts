/**
 * Does a resource URI fit an upstream's URI template? RFC 6570 as MCP servers use it: `{var}` is one path
 * segment (no `/`, `?` or `#`), `{+var}`, `{#var}` and `{var*}` any text, `{?var}`/`{&var}` an optional
 * query. The template comes from the upstream and the URI from the client, so the match must not backtrack:
 * a template like `{+a}x{+a}x{+a}x...` compiled to a regular expression took minutes on a short URI (a
 * ReDoS). This walks the template once, keeping the set of URI positions reachable so far: time is
 * O(URI length x template length), and both are bounded (a longer URI or template never matches).
 *
 *   templateMatches('file:///{+path}', 'file:///a/b.txt') // true
 */

/** Longest template considered, and longest URI matched against templates (a listed URI still matches exactly). */
export const MAX_TEMPLATE_LENGTH = 2048;
export const MAX_MATCHED_URI_LENGTH = 65_536;

type Token = { k: 'lit'; s: string } | { k: 'any' } | { k: 'seg' } | { k: 'query' };

const EXPRESSION = /\{([+#./;?&]?)([^}]*)\}/g;

function tokens(template: string): Token[] {
  const out: Token[] = [];
  let last = 0;
  for (const m of template.matchAll(EXPRESSION)) {
    if (m.index > last) out.push({ k: 'lit', s: template.slice(last, m.index) });
    const op = m[1];
    const explode = (m[2] ?? '').endsWith('*');
    if (op === '+' || op === '#' || explode) out.push({ k: 'any' });
    else if (op === '?' || op === '&') out.push({ k: 'query' });
    else out.push({ k: 'seg' });
    last = m.index + m[0].length;
  }
  if (last < template.length) out.push({ k: 'lit', s: template.slice(last) });
  return out;
}

/** `.` in a regular expression: anything but a line terminator (kept, so matches are what they were). */
const isLineTerminator = (c: number) => c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
const isSegmentEnd = (c: number) => c === 47 /* / */ || c === 63 /* ? */ || c === 35; /* # */

/** Positions reachable after one token, from those reachable before it. */
function step(t: Token, uri: string, reach: Uint8Array): Uint8Array {
  const n = uri.length;
  const next = new Uint8Array(n + 1);
  if (t.k === 'lit') {
    for (let i = 0; i + t.s.length <= n; i++) if (reach[i] && uri.startsWith(t.s, i)) next[i + t.s.length] = 1;
    return next;
  }
  // A wildcard runs on from every reachable position until a character it may not take.
  let running = false;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? uri.charCodeAt(i) : -1;
    if (t.k === 'query') {
      // Empty, or `?`/`&` taken at a reachable position and then any text.
      if (reach[i] || running) next[i] = 1;
      running = (running && i < n && !isLineTerminator(c)) || (reach[i] === 1 && (c === 63 || c === 38));
      continue;
    }
    if (reach[i]) running = true;
    if (running) next[i] = 1;
    if (running && (t.k === 'seg' ? isSegmentEnd(c) : isLineTerminator(c))) running = false;
  }
  return next;
}

export function templateMatches(template: string, uri: string): boolean {
  if (template.length > MAX_TEMPLATE_LENGTH || uri.length > MAX_MATCHED_URI_LENGTH) return false;
  let reach: Uint8Array = new Uint8Array(uri.length + 1);
  reach[0] = 1;
  for (const t of tokens(template)) {
    reach = step(t, uri, reach);
    if (!reach.includes(1)) return false;
  }
  return reach[uri.length] === 1;
}
