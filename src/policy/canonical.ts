/**
 * Canonical forms of the addresses a call names, so that a policy decides on one spelling of each and the
 * upstream is sent that same spelling. Two spellings of one resource (`file:///data/pub/../secret/s`,
 * `FILE:///data/%73ecret/s`) get one canonical form (`file:///data/secret/s`); a spelling whose meaning
 * depends on the server (an encoded `/` in a file path) is refused rather than guessed at.
 *
 *   canonicalUri('DEMO://Resource/static/x/../%64oc') // 'demo://resource/static/doc'
 *   canonicalPath('pub/../secret/s.txt', ['/data'])   // '/data/secret/s.txt'
 */
import { posix } from 'node:path';
import { PolicyInputError } from './errors.js';

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s;
/** Schemes the WHATWG URL parser (every Node and browser server) treats as special: `\` is a `/` there. */
const SPECIAL = new Set(['http', 'https', 'ws', 'wss', 'ftp', 'file']);
const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443', ftp: '21' };
/** RFC 3986 unreserved characters: their encoded and literal forms are the same URI. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** Characters that may not appear literally in a URI (control characters among them): percent-encoded in the canonical form. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0020"<>\\^`{|}\u007f]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_TEMPLATE = /[\u0000-\u0020"<>\\^`|\u007f]/g;

/** An address that has no single meaning: the request is refused with the reason. */
export class CanonicalError extends PolicyInputError {}

const hex = (b: number) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
const encodeChar = (c: string) => [...Buffer.from(c, 'utf8')].map(hex).join('');

/**
 * Decodes every run of percent-encoded octets that is valid UTF-8, keeping encoded (uppercase hex) the
 * characters `keep` says carry structure; invalid UTF-8 stays encoded.
 */
function decodePercents(text: string, keep: (c: string) => boolean): string {
  if (!text.includes('%')) return text;
  // A `%` that starts no escape is a literal percent sign: written as one, so decoding cannot make it one.
  return text.replace(/%(?![0-9A-Fa-f]{2})/g, '%25').replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
    let decoded: string;
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return run.toUpperCase();
    }
    let out = '';
    for (const c of decoded) out += keep(c) ? encodeChar(c) : c;
    return out;
  });
}

/** RFC 3986 section 5.2.4: `.` and `..` segments removed from an absolute path. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      if (i === segments.length - 1) out.push('');
    } else out.push(s);
  }
  return `/${out.join('/')}`;
}

/** Structure characters of each part: encoded they are data, literal they are delimiters, so they stay as given. */
const GEN_DELIMS = new Set([':', '/', '?', '#', '[', ']', '@']);
const SUB_DELIMS = new Set(['!', '$', '&', "'", '(', ')', '*', '+', ',', ';', '=']);
const keepInPath = (file: boolean) => (c: string) =>
  c === '%' || c === '/' || c === '?' || c === '#' || c.charCodeAt(0) <= 0x20 || c === '\u007f' || (!file && (GEN_DELIMS.has(c) || SUB_DELIMS.has(c))) || /["<>\\^`{|}]/.test(c);
const keepInQuery = (c: string) => !UNRESERVED.test(c) && c.charCodeAt(0) < 0x80;

export interface UriOptions {
  /** The text is a URI template (RFC 6570): `{...}` expressions stay as they are. */
  template?: boolean;
}

/**
 * The canonical form of an absolute URI: scheme and host in lower case, default port dropped, percent-encoded
 * unreserved and non-ASCII characters decoded (Unicode NFC), other encodings in upper-case hex, characters
 * not allowed in a URI encoded, dot segments removed. Throws CanonicalError for a relative reference, a NUL,
 * or (in `file:` URIs) an encoded `/` or `\`, which servers disagree about.
 */
export function canonicalUri(uri: string, opts: UriOptions = {}): string {
  if (uri.includes('\0') || /%00/.test(uri)) throw new CanonicalError('the URI contains a NUL');
  const m = SCHEME.exec(uri);
  if (m === null) throw new CanonicalError('not an absolute URI (it has no scheme)');
  const scheme = m[1]!.toLowerCase();
  let rest = m[2]!;
  const file = scheme === 'file';
  if (SPECIAL.has(scheme)) rest = rest.replace(/\\/g, '/');
  const hashAt = rest.indexOf('#');
  const fragment = hashAt >= 0 ? rest.slice(hashAt + 1) : undefined;
  if (hashAt >= 0) rest = rest.slice(0, hashAt);
  const queryAt = rest.indexOf('?');
  const query = queryAt >= 0 ? rest.slice(queryAt + 1) : undefined;
  if (queryAt >= 0) rest = rest.slice(0, queryAt);
  let authority: string | undefined;
  let path = rest;
  if (rest.startsWith('//')) {
    const end = rest.indexOf('/', 2);
    authority = end >= 0 ? rest.slice(2, end) : rest.slice(2);
    path = end >= 0 ? rest.slice(end) : '';
  }
  if (file && /%(2F|5C)/i.test(path)) throw new CanonicalError('a file URI with an encoded "/" or "\\" in its path is ambiguous');
  const unsafe = opts.template ? UNSAFE_TEMPLATE : UNSAFE;
  const encodeUnsafe = (s: string) => s.replace(unsafe, encodeChar);
  path = encodeUnsafe(decodePercents(path, keepInPath(file)));
  if (path.startsWith('/')) path = removeDotSegments(path);
  let out = `${scheme}:`;
  if (authority !== undefined) out += `//${canonicalAuthority(scheme, authority)}`;
  out += path;
  if (query !== undefined) out += `?${encodeUnsafe(decodePercents(query, keepInQuery))}`;
  if (fragment !== undefined) out += `#${encodeUnsafe(decodePercents(fragment, keepInQuery))}`;
  return nfcOutsideEscapes(out);
}

/** NFC of the literal text only: a combining mark after `%0E` must not compose with the hex digit `E`. */
const nfcOutsideEscapes = (s: string): string => (!isAscii(s) ? s.split(/(%[0-9A-F]{2})/).map((part, i) => (i % 2 === 1 ? part : part.normalize('NFC'))).join('') : s);

function canonicalAuthority(scheme: string, authority: string): string {
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  let hostPort = authority.slice(at + 1);
  let port = '';
  const portMatch = /:(\d*)$/.exec(hostPort);
  if (portMatch !== null && !hostPort.endsWith(']')) {
    port = portMatch[1]!;
    hostPort = hostPort.slice(0, portMatch.index);
  }
  let host = decodePercents(hostPort, (c) => !UNRESERVED.test(c) && c.charCodeAt(0) < 0x80).toLowerCase();
  if (scheme === 'file' && host === 'localhost') host = '';
  if (port === DEFAULT_PORT[scheme]) port = '';
  return `${userinfo}${host}${port === '' ? '' : `:${port}`}`;
}

/** ASCII text is its own NFC (the check is cheaper than normalising). */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Looks like an absolute URI (`scheme://...`) rather than a path. */
export const isUriLike = (v: string): boolean => /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v);

/**
 * The canonical form of a path: Unicode NFC, `.`/`..`/`//` collapsed, no trailing `/`. A relative path is
 * resolved against the first of `roots` (absolute directories); with no roots it stays relative and may not
 * climb above its start. A `scheme://` value is canonicalised as a URI. Throws CanonicalError for a NUL or
 * a relative path that climbs out.
 */
export function canonicalPath(value: string, roots: readonly string[] = []): string {
  if (value.includes('\0')) throw new CanonicalError('the path contains a NUL byte');
  if (value === '') return value;
  if (value.includes('://') && isUriLike(value)) return canonicalUri(value);
  const nfc = isAscii(value) ? value : value.normalize('NFC');
  let p: string;
  if (nfc.startsWith('/')) p = posix.normalize(nfc);
  else if (roots.length > 0) p = posix.normalize(`${roots[0]!}/${nfc}`);
  else {
    p = posix.normalize(nfc);
    if (p === '..' || p.startsWith('../')) throw new CanonicalError('a relative path may not climb above its start (`..`)');
  }
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}
