/**
 * Reading config values as a secret scanner must: which part of a value is literal text (client variable
 * references like `${env:X}`, `${input:x}`, `${{ secrets.X }}`, `$X` and warden's `${secret:X}` are not
 * secrets, though a `${X:-default}` default is), which literals are placeholders, which names say
 * "credential", and a fingerprint that stands for a value in reports.
 */
import { createHash } from 'node:crypto';

/** Client and gateway variable references, as they appear in values. */
const REFERENCES = [
  /\$\{\{[^}]*\}\}/g, // Continue: ${{ secrets.X }}
  /\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}/g, // ${X:-default}: the default is literal
  /\$\{[^}]*\}/g, // ${env:X}, ${input:x}, ${secret:x}, ${X}, ${workspaceFolder}
  /\$[A-Z_][A-Z0-9_]*/g, // $X (Gemini CLI, shells)
  /%[A-Za-z_][A-Za-z0-9_]*%/g, // %X% (Windows)
];

/** The value with every reference blanked out (to spaces, so offsets stay put); a `${X:-default}` keeps its default. */
export function literalText(value: string): string {
  let out = value;
  for (const re of REFERENCES) {
    out = out.replace(re, (m: string, dflt?: unknown) => {
      if (typeof dflt === 'string' && m.startsWith('${') && m.includes(':-')) {
        const start = m.indexOf(':-') + 2;
        return ' '.repeat(start) + dflt + ' ';
      }
      return ' '.repeat(m.length);
    });
  }
  return out;
}

export const hasReference = (value: string): boolean => literalText(value) !== value;

const PLACEHOLDER =
  /^(<[^>]*>|\[[^\]]*\]|\{[^}]*\}|x{3,}|\*{3,}|\.{3,}|changeme|change[-_]?me|replace[-_]?me|todo|tbd|example|placeholder|dummy|none|null|undefined|true|false|yes|no|on|off|\d+)$/i;
const PLACEHOLDER_WORDS =
  /(your[-_ ]?(api|access|secret|auth|personal|own|token|key|pat|password)|_here\b|-here\b|<[a-z_ -]+>|replace[-_ ]?(me|with|this)|placeholder|insert[-_ ]?(your|key|token)|xxxxxxxx|example[-_]?(key|token|secret))/i;

/** A value someone left to be filled in (`<YOUR_TOKEN>`, `your-api-key-here`, `xxxx`), or a plain flag value. */
export function isPlaceholder(literal: string): boolean {
  const v = literal.trim();
  if (v === '') return true;
  if (PLACEHOLDER.test(v) || PLACEHOLDER_WORDS.test(v)) return true;
  return /^(.)\1+$/.test(v);
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

const SECRET_WORDS = new Set([
  'token',
  'secret',
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'apikey',
  'key',
  'credential',
  'credentials',
  'auth',
  'authorization',
  'pat',
  'cookie',
  'bearer',
  'signature',
  'sig',
  'session',
  'privatekey',
  'accesskey',
  'clientsecret',
]);
/** Last name parts that make the name about something else than the credential itself. */
const NOT_SECRET_TAIL = new Set([
  'url',
  'uri',
  'endpoint',
  'host',
  'hostname',
  'domain',
  'port',
  'path',
  'file',
  'dir',
  'directory',
  'type',
  'mode',
  'method',
  'id',
  'name',
  'user',
  'username',
  'email',
  'region',
  'zone',
  'scope',
  'scopes',
  'expiry',
  'expires',
  'ttl',
  'timeout',
  'enabled',
  'required',
  'header',
  'prefix',
  'issuer',
  'audience',
  'version',
  'count',
  'limit',
  'env',
  'var',
  'provider',
  'server',
  'service',
  'store',
  'backend',
  'manager',
  'source',
  'location',
  'project',
  'account',
  'org',
  'team',
  'tenant',
  'level',
  'length',
  'format',
  'encoding',
  'algorithm',
  'alg',
  'kind',
  'secure',
  'samesite',
  'policy',
]);

/** Whether an env var, header, setting or flag name says it holds a credential (`GITHUB_TOKEN`, `x-api-key`, `--api-key`). */
export function isSecretName(name: string): boolean {
  const words = name
    .replace(/^-+/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.length === 0) return false;
  if (NOT_SECRET_TAIL.has(words[words.length - 1]!)) return false;
  const joined = words.join('');
  if (/(apikey|accesskey|privatekey|clientsecret|accesstoken|authtoken|secretkey)/.test(joined)) return true;
  return words.some((w) => SECRET_WORDS.has(w));
}

/** `sha256:` and the first 16 hex digits of a domain-separated SHA-256: names a value without showing it. */
export function fingerprint(value: string): string {
  return 'sha256:' + createHash('sha256').update('mcp-warden/posture\0').update(value).digest('hex').slice(0, 16);
}

/** The loopback and unspecified hosts: a server there runs on this machine. */
export function isLocalHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h === '::1' ||
    /^127\./.test(h) ||
    h === '0.0.0.0' ||
    h === 'host.docker.internal'
  );
}

/** A URL for messages: scheme, host and port only (the path, query and user info may carry a key). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(an unparsable URL)';
  }
}

/** Text safe for a terminal: control characters and bidirectional overrides (which could disguise a report) become `?`. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
export const printable = (text: string): string => text.replace(UNPRINTABLE, '?');
