/**
 * Redaction of injected secrets from what upstreams send back. The gateway's Redactor holds every value it
 * injected into any upstream connection (for any principal: one upstream may serve several, and hand one's
 * credential to another) and replaces each occurrence, in any string of a JSON value (object keys too),
 * with `[redacted:NAME]`. An upstream that echoes a credential (a debug tool printing its environment, an
 * error quoting the request, a shared store) thus never hands it to an agent.
 *
 * Each value is looked for as is, JSON-escaped (inside JSON text), in base64 and base64url (whole, and the
 * part that stays the same wherever the value sits in a longer 3-byte-aligned encoding) and URL-encoded; a
 * value written in hex or base32 in any letter case; and across the text items of one list (a value split
 * over two content blocks that a client shows as one text). Values shorter than MIN_REDACTED_LENGTH are not
 * redacted anywhere, errors included: replacing a short value would mangle ordinary text and, worse, reveal
 * the value by the text around each marker.
 *
 *   const r = new Redactor()
 *   r.add([{ name: 'gh/token', value: 'ghp_abc123' }])
 *   r.json({ text: 'token=ghp_abc123' }) // { value: { text: 'token=[redacted:gh/token]' }, redacted: true, names: ['gh/token'] }
 */
import { UpstreamRpcError, WardenError } from '../protocol/errors.js';

/** Values shorter than this are not redacted (see above); the start-time check warns about them. */
export const MIN_REDACTED_LENGTH = 6;

/** A secret value given to an upstream, by the name it was referenced by. */
export interface InjectedSecret {
  name: string;
  value: string;
}

export interface Redacted<T> {
  value: T;
  /** Whether anything was replaced. */
  redacted: boolean;
  /** The secrets found, by name. */
  names: string[];
}

/** The forms a value is looked for in (exact case). */
export function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const aligned = bytes.subarray(0, bytes.length - (bytes.length % 3));
  const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
  for (const enc of ['base64', 'base64url'] as const) forms.push(bytes.toString(enc).replace(/=+$/, ''), aligned.toString(enc));
  return forms.filter((f) => f.length >= MIN_REDACTED_LENGTH);
}

/** Hex and base32 mean the same in either letter case, and tools print them in both. */
const caseless = (value: string): boolean => /^[0-9a-f]+$/i.test(value) || /^[a-z2-7]+=*$/i.test(value);

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const anyCase = (s: string) => [...s].map((c) => (c.toLowerCase() !== c.toUpperCase() ? `[${c.toLowerCase()}${c.toUpperCase()}]` : escapeRegExp(c))).join('');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The text of a list item a client shows as text: a string, a content block's `text`, a message's `content.text`. */
function textOf(item: unknown): string | undefined {
  if (typeof item === 'string') return item;
  if (!isObject(item)) return undefined;
  if (typeof item.text === 'string') return item.text;
  return isObject(item.content) && typeof item.content.text === 'string' ? item.content.text : undefined;
}

function withText(item: unknown, text: string): unknown {
  if (typeof item === 'string') return text;
  const o = item as Record<string, unknown>;
  return typeof o.text === 'string' ? { ...o, text } : { ...o, content: { ...(o.content as Record<string, unknown>), text } };
}

export class Redactor {
  /** Exact form -> the name of the secret it encodes (the first one added, when two secrets share a value). */
  private readonly forms = new Map<string, string>();
  /** Lower-cased form of a caseless value -> its name. */
  private readonly folded = new Map<string, string>();
  /** Form key -> the scopes that added it; a form leaves when its last scope is forgotten ('' is never forgotten). */
  private readonly scopes = new Map<string, Set<string>>();
  private pattern: RegExp | undefined;

  /**
   * Adds values to look for; short values are ignored. A rotated secret's old value stays. Values added under
   * a `scope` (a task's leases) leave again with forget(scope), unless another scope also added them.
   */
  add(secrets: Iterable<InjectedSecret>, scope = ''): void {
    let changed = false;
    for (const { name, value } of secrets) {
      if (value.length < MIN_REDACTED_LENGTH) continue;
      const keys: Array<[Map<string, string>, string]> = encodedForms(value).map((f) => [this.forms, f]);
      if (caseless(value)) keys.push([this.folded, value.toLowerCase()]);
      for (const [map, form] of keys) {
        const key = `${map === this.folded ? 'i' : '='}${form}`;
        let owners = this.scopes.get(key);
        if (owners === undefined) this.scopes.set(key, (owners = new Set()));
        owners.add(scope);
        if (map.has(form)) continue;
        map.set(form, name);
        changed = true;
      }
    }
    if (changed) this.compile();
  }

  /** Drops the values only `scope` added (a task's leases, once revoked: they unlock nothing any more). */
  forget(scope: string): void {
    if (scope === '') return;
    let changed = false;
    for (const [key, owners] of this.scopes) {
      if (!owners.delete(scope) || owners.size > 0) continue;
      this.scopes.delete(key);
      (key.startsWith('i') ? this.folded : this.forms).delete(key.slice(1));
      changed = true;
    }
    if (changed) this.compile();
  }

  /** Longest first, so a value that contains another is replaced whole; one pass, so markers are never rescanned. */
  private compile(): void {
    const alternatives = [...[...this.forms.keys()].map((f) => [f, escapeRegExp(f)]), ...[...this.folded.keys()].map((f) => [f, anyCase(f)])];
    this.pattern = alternatives.length === 0 ? undefined : new RegExp(alternatives.sort((a, b) => b[0]!.length - a[0]!.length).map((a) => a[1]).join('|'), 'g');
  }

  private nameOf(match: string): string {
    return this.forms.get(match) ?? this.folded.get(match.toLowerCase()) ?? 'secret';
  }

  /** True when there is nothing to look for (every result passes untouched). */
  get empty(): boolean {
    return this.pattern === undefined;
  }

  /** `text` with every occurrence replaced; the names found are added to `found`. */
  text(text: string, found?: Set<string>): string {
    if (this.pattern === undefined) return text;
    return text.replace(this.pattern, (m) => {
      const name = this.nameOf(m);
      found?.add(name);
      return `[redacted:${name}]`;
    });
  }

  /** A JSON value with every string (object keys included) redacted; the same object when nothing was. */
  json<T>(value: T): Redacted<T> {
    if (this.pattern === undefined) return { value, redacted: false, names: [] };
    const found = new Set<string>();
    const out = this.walk(value, found) as T;
    return { value: out, redacted: found.size > 0, names: [...found] };
  }

  /** An upstream error with its message and data redacted (UpstreamRpcError, WardenError); others pass as they are. */
  error(err: unknown): Redacted<unknown> {
    const found = new Set<string>();
    let out = err;
    if (this.pattern !== undefined && err instanceof UpstreamRpcError) {
      const message = this.text(err.message, found);
      const data = this.walk(err.rpcData, found);
      if (found.size > 0) out = new UpstreamRpcError(err.rpcCode, message, data);
    } else if (this.pattern !== undefined && err instanceof WardenError) {
      const message = this.text(err.message, found);
      const data = this.walk(err.data, found) as Record<string, unknown> | undefined;
      if (found.size > 0) out = new WardenError(err.code, message, err.jsonRpcCode, err.httpStatus, data);
    }
    return { value: out, redacted: found.size > 0, names: [...found] };
  }

  /** Copies only what changed. A pathologically deep value overflows the stack and fails the request: closed. */
  private walk(value: unknown, found: Set<string>): unknown {
    if (typeof value === 'string') return this.text(value, found);
    if (Array.isArray(value)) {
      let changed = false;
      let out = value.map((v) => {
        const r = this.walk(v, found);
        if (r !== v) changed = true;
        return r;
      });
      const joined = this.acrossItems(out, found);
      if (joined !== undefined) [out, changed] = [joined, true];
      return changed ? out : value;
    }
    if (!isObject(value)) return value;
    let changed = false;
    const entries = Object.entries(value).map(([k, v]): [string, unknown] => {
      const key = this.text(k, found);
      const r = this.walk(v, found);
      if (key !== k || r !== v) changed = true;
      return [key, r];
    });
    // fromEntries defines own properties, so a `__proto__` key stays data.
    return changed ? Object.fromEntries(entries) : value;
  }

  /**
   * A value split over consecutive text items of one list (content blocks, resource contents, messages): the
   * items' texts are read as one, and each occurrence that crosses an item boundary is cut out of every item
   * it spans, the marker going where it starts. Undefined when there is none.
   */
  private acrossItems(items: unknown[], found: Set<string>): unknown[] | undefined {
    const texts = items.map(textOf);
    let out: unknown[] | undefined;
    for (let start = 0; start < items.length; ) {
      let end = start;
      while (end < items.length && texts[end] !== undefined) end++;
      if (end - start >= 2) {
        const replaced = this.acrossRun(texts.slice(start, end) as string[], found);
        if (replaced !== undefined) {
          out ??= [...items];
          replaced.forEach((t, i) => {
            if (t !== texts[start + i]) out![start + i] = withText(items[start + i], t);
          });
        }
      }
      start = end + 1;
    }
    return out;
  }

  private acrossRun(texts: string[], found: Set<string>): string[] | undefined {
    const joined = texts.join('');
    const bounds: number[] = [];
    let at = 0;
    for (const t of texts) bounds.push((at += t.length));
    const crossing = [...joined.matchAll(this.pattern!)].filter((m) => bounds.some((b) => b > m.index && b < m.index + m[0].length));
    if (crossing.length === 0) return undefined;
    let offset = 0;
    return texts.map((t) => {
      const from = offset;
      offset += t.length;
      let next = '';
      for (let i = 0; i < t.length; i++) {
        const pos = from + i;
        const m = crossing.find((c) => pos >= c.index && pos < c.index + c[0].length);
        if (m === undefined) next += t[i];
        else if (pos === m.index) {
          const name = this.nameOf(m[0]);
          found.add(name);
          next += `[redacted:${name}]`;
        }
      }
      return next;
    });
  }
}
