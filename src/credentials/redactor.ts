/**
 * Redaction of injected secrets from what upstreams send back. A session's Redactor holds the values injected
 * into its upstreams and replaces each occurrence, in any string of a JSON value (object keys too), with
 * `[redacted:NAME]`. An upstream that echoes its credential (a debug tool printing its environment, an error
 * quoting the request) thus never hands it to the agent.
 *
 * Each value is looked for as is, JSON-escaped (inside JSON text), in base64 and base64url (whole, and the
 * part that stays the same wherever the value sits in a longer 3-byte-aligned encoding) and URL-encoded.
 * Values shorter than MIN_REDACTED_LENGTH are not redacted anywhere, errors included: replacing a short value
 * would mangle ordinary text and, worse, reveal the value by the text around each marker.
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

/** The forms a value is looked for in. */
export function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const aligned = bytes.subarray(0, bytes.length - (bytes.length % 3));
  const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
  for (const enc of ['base64', 'base64url'] as const) forms.push(bytes.toString(enc).replace(/=+$/, ''), aligned.toString(enc));
  return forms.filter((f) => f.length >= MIN_REDACTED_LENGTH);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class Redactor {
  /** Form -> the name of the secret it encodes (the first one added, when two secrets share a value). */
  private readonly forms = new Map<string, string>();
  private pattern: RegExp | undefined;

  /** Adds values to look for; short values are ignored. A rotated secret's old value stays. */
  add(secrets: Iterable<InjectedSecret>): void {
    let changed = false;
    for (const { name, value } of secrets) {
      if (value.length < MIN_REDACTED_LENGTH) continue;
      for (const form of encodedForms(value)) {
        if (this.forms.has(form)) continue;
        this.forms.set(form, name);
        changed = true;
      }
    }
    // Longest first, so a value that contains another is replaced whole; one pass, so markers are never rescanned.
    if (changed) this.pattern = new RegExp([...this.forms.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
  }

  /** True when there is nothing to look for (every result passes untouched). */
  get empty(): boolean {
    return this.pattern === undefined;
  }

  /** `text` with every occurrence replaced; the names found are added to `found`. */
  text(text: string, found?: Set<string>): string {
    if (this.pattern === undefined) return text;
    return text.replace(this.pattern, (m) => {
      const name = this.forms.get(m)!;
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
      const out = value.map((v) => {
        const r = this.walk(v, found);
        if (r !== v) changed = true;
        return r;
      });
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
}
