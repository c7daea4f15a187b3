/**
 * Hard-coded secrets in a server's values. Two detectors: secretlint's recommended rules plus patterns
 * for token formats common in MCP configs (run as a library over one synthetic line per value), and
 * MCP-specific rules: a credential-named env var, header, setting or flag with a literal value, an
 * Authorization header, `--header "Authorization: ..."` and `-e NAME=value` args, and keys in URLs (user
 * info, query parameters, high-entropy path segments). Every hit names the exact substring, so that the
 * migration can replace it with a vault reference and the reports can leave it out.
 */
import { lintSource } from '@secretlint/core';
import { creator as patternRule } from '@secretlint/secretlint-rule-pattern';
import { creator as presetRecommend } from '@secretlint/secretlint-rule-preset-recommend';
import type { ServerEntry, Slot } from './model.js';
import { entropy, isPlaceholder, isSecretName, literalText } from './values.js';

export interface SecretHit {
  slot: Slot;
  /** The secrets as they are written in the slot's value (most slots hold one; a URL may hold a password and a key). */
  secrets: string[];
  /** What found the first: secretlint's rule id, `pattern/<name>`, or `mcp/<rule>`. */
  detector: string;
}

interface Match {
  secret: string;
  detector: string;
}

/** Token formats secretlint's preset does not know, seen in MCP server configs. */
export const EXTRA_PATTERNS: ReadonlyArray<{ name: string; pattern: RegExp }> = [
  { name: 'jwt', pattern: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/ },
  { name: 'gitlab-token', pattern: /glpat-[0-9A-Za-z_-]{20,}/ },
  { name: 'stripe-key', pattern: /\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}/ },
  { name: 'huggingface-token', pattern: /\bhf_[A-Za-z0-9]{30,}/ },
  { name: 'notion-token', pattern: /\b(?:ntn_[0-9A-Za-z]{40,}|secret_[0-9A-Za-z]{40,})/ },
  { name: 'google-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}\b/ },
  { name: 'groq-key', pattern: /\bgsk_[0-9A-Za-z]{40,}/ },
  { name: 'perplexity-key', pattern: /\bpplx-[0-9A-Za-z]{40,}/ },
  { name: 'tavily-key', pattern: /\btvly-[0-9A-Za-z-]{20,}/ },
  { name: 'supabase-token', pattern: /\bsbp_[0-9a-f]{40}\b/ },
  { name: 'atlassian-token', pattern: /\bATATT3[0-9A-Za-z_=-]{50,}/ },
  { name: 'sentry-token', pattern: /\bsntry[su]_[0-9A-Za-z_=+/-]{40,}/ },
];

const SECRETLINT_CONFIG: Parameters<typeof lintSource>[0]['options']['config'] = {
  rules: [
    { id: '@secretlint/secretlint-rule-preset-recommend', rule: presetRecommend },
    {
      id: '@secretlint/secretlint-rule-pattern',
      rule: patternRule,
      options: { patterns: EXTRA_PATTERNS.map((p) => ({ name: p.name, patterns: [`/${p.pattern.source}/g`] })) },
    },
  ],
};

const AUTH_SCHEMES = new Set(['bearer', 'basic', 'token', 'digest', 'apikey', 'api-key', 'key', 'dpop']);
const AUTH_HEADERS = new Set(['authorization', 'proxy-authorization']);

/** The longest whitespace-free literal run of a value that is not an auth scheme word: the credential in "Bearer abc". */
function credentialIn(value: string): string | undefined {
  const tokens = literalText(value)
    .split(/[\s;,]+/)
    .filter((t) => t !== '' && !AUTH_SCHEMES.has(t.toLowerCase()))
    // `session=abc` (a cookie, a key=value pair): the value is the credential.
    .map((t) => /^[A-Za-z_][\w.-]*=([^=].*)$/.exec(t)?.[1] ?? t);
  const best = tokens.sort((a, b) => b.length - a.length)[0];
  return best !== undefined && qualifies(best) ? best : undefined;
}

/** Long enough, not a placeholder, not a path, URL or number: could be a credential. */
function qualifies(literal: string): boolean {
  if (literal.length < 6 || isPlaceholder(literal)) return false;
  if (/^(https?:\/\/|\/|\.\.?\/|~\/|[A-Za-z]:[\\/])/.test(literal)) return false;
  // A host name (`auth.example.com`) or a number is not a credential, whatever the name above it says.
  return !/^[\d.,:-]+$/.test(literal) && !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(literal);
}

/** Keys in a URL: the user-info password, credential-named query parameters, a high-entropy path segment. */
function secretsInUrl(url: string): Match[] {
  const literal = literalText(url);
  let u: URL;
  try {
    u = new URL(literal.replace(/\s+/g, ''));
  } catch {
    return [];
  }
  const out: Match[] = [];
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:([^/@\s]+)@/i.exec(literal);
  if (m && qualifies(m[1]!)) out.push({ secret: m[1]!, detector: 'mcp/url-password' });
  for (const [k, v] of u.searchParams) {
    if (isSecretName(k) && qualifies(v) && url.includes(v)) out.push({ secret: v, detector: 'mcp/url-query-key' });
  }
  for (const seg of u.pathname.split('/')) {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(seg);
    if (
      seg.length >= 24 &&
      !uuid &&
      /\d/.test(seg) &&
      /[A-Za-z]/.test(seg) &&
      entropy(seg) >= 3.5 &&
      url.includes(seg)
    ) {
      out.push({ secret: seg, detector: 'mcp/url-path-key' });
    }
  }
  return out;
}

/** The MCP-specific detectors for one slot; `previous` is the argument before an argument slot. */
function mcpRules(slot: Slot, previous: string | undefined): Match[] {
  const v = slot.value;
  if (slot.kind === 'url') return secretsInUrl(v);
  if (slot.kind === 'header') {
    const named = AUTH_HEADERS.has(slot.name.toLowerCase()) || isSecretName(slot.name);
    const c = named ? credentialIn(v) : undefined;
    return c ? [{ secret: c, detector: 'mcp/auth-header' }] : [];
  }
  if (slot.kind === 'env' || slot.kind === 'setting') {
    const c = isSecretName(slot.name) ? credentialIn(v) : undefined;
    return c ? [{ secret: c, detector: 'mcp/secret-name' }] : [];
  }
  if (slot.kind !== 'arg') return [];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return secretsInUrl(v);
  const assign = /^(-{1,2}[A-Za-z][\w-]*|[A-Za-z_][A-Za-z0-9_]*)=(.+)$/s.exec(v);
  if (assign && isSecretName(assign[1]!)) {
    const c = credentialIn(assign[2]!);
    return c ? [{ secret: c, detector: assign[1]!.startsWith('-') ? 'mcp/secret-flag' : 'mcp/secret-name' }] : [];
  }
  if (previous !== undefined && /^(--header|-H|--headers)$/.test(previous)) {
    const h = /^([^:]+):\s*(.*)$/s.exec(v);
    const c =
      h && (AUTH_HEADERS.has(h[1]!.trim().toLowerCase()) || isSecretName(h[1]!.trim()))
        ? credentialIn(h[2]!)
        : undefined;
    return c ? [{ secret: c, detector: 'mcp/auth-header' }] : [];
  }
  if (
    previous !== undefined &&
    /^--?[A-Za-z]/.test(previous) &&
    !previous.includes('=') &&
    isSecretName(previous) &&
    !v.startsWith('-')
  ) {
    const c = credentialIn(v);
    return c ? [{ secret: c, detector: 'mcp/secret-flag' }] : [];
  }
  return [];
}

/** secretlint over one line per slot; returns the hits by slot index. */
async function secretlintHits(slots: Slot[]): Promise<Map<number, Match[]>> {
  const lines: string[] = [];
  const starts: number[] = [];
  let offset = 0;
  for (const s of slots) {
    const prefix = s.kind === 'env' || s.kind === 'header' || s.kind === 'setting' ? `${s.name}=` : '';
    const line = prefix + literalText(s.value).replace(/[\r\n]/g, ' ');
    starts.push(offset + prefix.length);
    lines.push(line);
    offset += line.length + 1;
  }
  const content = lines.join('\n');
  const result = await lintSource({
    source: { content, filePath: '/posture/values.txt', ext: '.txt', contentType: 'text' },
    options: { config: SECRETLINT_CONFIG, maskSecrets: true },
  });
  const hits = new Map<number, Match[]>();
  for (const m of result.messages) {
    const [from, to] = m.range;
    const line = content.slice(0, from).split('\n').length - 1;
    const slot = slots[line];
    if (slot === undefined) continue;
    const start = Math.max(from - starts[line]!, 0);
    const secret = slot.value.slice(start, to - starts[line]!);
    if (secret.length === 0) continue;
    const pattern =
      m.ruleId === '@secretlint/secretlint-rule-pattern'
        ? EXTRA_PATTERNS.find((p) => p.pattern.test(secret))
        : undefined;
    const detector = pattern
      ? `pattern/${pattern.name}`
      : m.ruleId.replace(/^@secretlint\/secretlint-rule-/, 'secretlint/');
    hits.set(line, [...(hits.get(line) ?? []), { secret, detector }]);
  }
  return hits;
}

/** Every hard-coded secret of a server, one hit per slot; secretlint's detector is named when both match. */
export async function findSecrets(server: ServerEntry): Promise<SecretHit[]> {
  // The command is searched for known token formats only: its words are a program path, not named values.
  const slots = server.slots.filter((s) => s.kind !== 'cwd');
  const lint = await secretlintHits(slots);
  const out: SecretHit[] = [];
  slots.forEach((slot, i) => {
    const previous = slot.kind === 'arg' ? server.args[Number(slot.name) - 1] : undefined;
    const matches = [...(lint.get(i) ?? []), ...(slot.kind === 'command' ? [] : mcpRules(slot, previous))];
    if (matches.length === 0) return;
    // Longest first: a connection string before the password inside it, so a replacement takes the whole.
    const secrets = [...new Set(matches.map((m) => m.secret))].sort((a, b) => b.length - a.length);
    out.push({ slot, secrets, detector: matches[0]!.detector });
  });
  return out;
}
