/**
 * The checks on one piece of text (a description, a property's description or default, a prompt argument,
 * a tool result): hidden characters first, then what the visible and the decoded hidden text say. Patterns
 * are matched on NFKC text with invisible characters removed and whitespace collapsed, so `ig\u200Bnore
 * previous instructions` and full-width letters match too.
 */
import { INTEGRITY_RULES, type Finding } from './rules.js';

// eslint-disable-next-line no-misleading-character-class -- the class lists invisible and combining code points on purpose
const TAG = /[\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}\u{FE00}-\u{FE0F}]/u;
// eslint-disable-next-line no-misleading-character-class -- the class lists invisible and combining code points on purpose
const TAG_ALL = /[\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}\u{FE00}-\u{FE0F}]/gu;
// eslint-disable-next-line no-misleading-character-class -- the class lists invisible and combining code points on purpose
const ZERO_WIDTH = /[\u200B-\u200D\u2060-\u2064\uFEFF\u180E\u00AD\u034F\u115F\u1160\u3164]/;
// eslint-disable-next-line no-misleading-character-class -- the class lists invisible and combining code points on purpose
const ZERO_WIDTH_ALL = /[\u200B-\u200D\u2060-\u2064\uFEFF\u180E\u00AD\u034F\u115F\u1160\u3164]/g;
const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/;
const BIDI_ALL = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/** Text a model reads but a person does not see: Unicode tag characters map to ASCII (U+E0041 is "A"). */
function decodeTags(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xe0020 && cp <= 0xe007e) out += String.fromCharCode(cp - 0xe0000);
  }
  return out;
}

const VERB = String.raw`(?:read|send|pass|include|forward|upload|copy|cat|open|attach|append|add|provide|put|post|share|leak|exfiltrate|extract|paste)`;

const PATTERNS: { id: string; re: RegExp }[] = [
  { id: 'model-instruction', re: /\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}?\b(?:previous|prior|above|earlier|preceding|other|all|system|safety|existing)\b.{0,20}?\b(?:instructions?|directions?|prompts?|rules|guidelines|messages?|constraints)\b/ },
  { id: 'model-instruction', re: new RegExp(String.raw`\bbefore (?:using|calling|invoking|running|executing) (?:this|any|the|these)\b.{0,20}?\btools?\b.{0,100}?\b${VERB}\b`) },
  { id: 'model-instruction', re: new RegExp(String.raw`\b(?:you|the (?:assistant|ai|model|llm|agent))\s+(?:must|should|shall|need to|have to|are required to|will)\s+(?:always\s+|first\s+|also\s+|now\s+)?(?:${VERB}|bcc|cc|redirect|change|replace|call|invoke)\b.{0,80}?\b(?:(?:ssh|api|secret|private|access) keys?|tokens?|secrets?|passwords?|credentials?|conversation|system prompt|e-?mails?|recipients?|contents? of|config files?|\.env)\b`) },
  { id: 'model-instruction', re: /\b(?:must|should|shall)\s+(?:also\s+|always\s+)?(?:send|forward|post|upload|copy|route|redirect|bcc|cc)\b.{0,60}?\bto\s+(?:https?:\/\/|[a-z0-9._%+-]+@[a-z0-9-]+\.)/ },
  { id: 'model-instruction', re: /\b(?:change|replace|redirect|switch|set)\s+(?:the\s+)?(?:recipient|destination|to address|phone number|account number|iban|wallet address|email address)s?\b.{0,30}?\bto\b/ },
  { id: 'model-instruction', re: /\b(?:all|every|any)\s+(?:e-?mails?|messages?|requests?|payments?|transfers?)\s+(?:must|should|shall|have to)\s+(?:also\s+)?(?:be\s+)?(?:sent|forwarded|copied|bcc'?d|cc'?d|redirected|routed)\b/ },
  { id: 'model-instruction', re: /\b(?:new|updated|real|actual|true) instructions?\s*:/ },
  { id: 'model-instruction', re: /\b(?:always|also|secretly)\s+(?:add|include|bcc|cc|forward|send|copy)\b.{0,60}?(?:\bbcc\b|\bcc\b|@[a-z0-9-]+\.[a-z]|\brecipients?\b)/ },
  { id: 'conceal-from-user', re: /\b(?:do not|don't|dont|never|without)\s+(?:tell|telling|inform|informing|mention|mentioning|reveal|revealing|notify|notifying|alert|alerting|show|showing|let|letting|disclose|disclosing)\b.{0,80}?\b(?:user|human|operator|person|them)\b/ },
  { id: 'conceal-from-user', re: /\b(?:the )?(?:user|human)\s+(?:must|should|shall|may)\s+not\s+(?:know|see|be told|notice|find out|learn)\b/ },
  { id: 'conceal-from-user', re: /\b(?:secretly|covertly|without the user(?:'s)? knowledge)\b/ },
  { id: 'instruction-block', re: /<\s*\/?\s*(?:important|system|instructions?|secret|hidden|admin|assistant|critical|override|priority)\s*>/ },
  { id: 'instruction-block', re: /\[\s*(?:system|important|instructions?|admin|hidden)\s*(?:message|note)?\s*\]/ },
  { id: 'secret-access', re: /(?:~|\$home|\/home\/[^/\s]+|\/root|%userprofile%)[/\\]\.ssh\b|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws[/\\]credentials|\bmcp\.json\b|claude_desktop_config|\.cursor[/\\]mcp|\.kube[/\\]config|\/etc\/(?:passwd|shadow)\b|\.git-credentials|\.docker[/\\]config\.json|\.pgpass\b|\bwallet\.dat\b/ },
  { id: 'secret-access', re: new RegExp(String.raw`\b${VERB}\b.{0,60}?(?:\.env\b|\.npmrc\b|\.netrc\b|private keys?\b|ssh keys?\b|api[ _-]?keys?\b|secret keys?\b|access tokens?\b|passwords?\b|credentials\b|seed phrase\b|mnemonic\b).{0,80}?\b(?:as|in|into|to|via|inside)\b.{0,30}?\b(?:parameter|argument|field|sidenote|note|request|url|query|body|header)s?\b`) },
  { id: 'context-exfiltration', re: new RegExp(String.raw`\b${VERB}\b.{0,60}?\b(?:system prompt|conversation history|chat history|previous messages|entire conversation|full conversation|whole conversation|all (?:previous |prior )?messages|other tools'? (?:outputs?|results)|your instructions)\b`) },
];

const URL = /\bhttps?:\/\/([^\s/"'<>)\]`]+)/gi;

export interface TextContext {
  /** Hosts a URL may name (a host, or any subdomain of it). */
  allowedHosts: readonly string[];
  /** Checks left out (results are not checked for URLs or length). */
  skip?: ReadonlySet<string>;
}

/** Lowercased NFKC text without invisible characters and with whitespace collapsed: what patterns read. */
export function normalisedText(text: string): string {
  return text.normalize('NFKC').replace(TAG_ALL, '').replace(ZERO_WIDTH_ALL, '').replace(BIDI_ALL, '').replace(/\s+/g, ' ').toLowerCase();
}

/** `text` with hidden characters made visible (\u{...}) and cut to `max` characters, for reports. */
export function excerpt(text: string, at = 0, max = 120): string {
  const start = Math.max(0, at - 30);
  const shown = [...text.slice(start, start + max * 2)]
    .map((ch) => {
      const cp = ch.codePointAt(0)!;
      return TAG.test(ch) || ZERO_WIDTH.test(ch) || BIDI.test(ch) || cp < 0x20 ? `\\u{${cp.toString(16)}}` : ch;
    })
    .join('');
  return shown.length > max ? shown.slice(0, max) + '…' : shown;
}

export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^[^@]*@/, '').replace(/:\d+$/, '').replace(/\.$/, '');
  return allowed.some((a) => h === a || h.endsWith('.' + a));
}

/** The findings in one piece of text at `where`. */
export function checkText(text: string, where: string, ctx: TextContext): Finding[] {
  const out: Finding[] = [];
  const add = (id: string, at: number, source = text) => {
    if (ctx.skip?.has(id) || out.some((f) => f.id === id)) return;
    const r = INTEGRITY_RULES[id]!;
    out.push({ id, severity: r.severity, refs: r.refs, where, excerpt: excerpt(source, at) });
  };
  const tag = text.search(TAG);
  if (tag >= 0) add('unicode-tag', tag);
  // A lone zero-width joiner between emoji is ordinary text; one between letters hides something.
  // eslint-disable-next-line no-misleading-character-class -- the class lists invisible and combining code points on purpose
  const zw = text.search(/[\p{L}\p{N}\s][\u200B-\u200D\u2060-\u2064\uFEFF\u180E\u00AD\u034F]|^[\u200B\u2060\uFEFF]/u);
  if (zw >= 0) add('unicode-zero-width', zw);
  const bidi = text.search(BIDI);
  if (bidi >= 0) add('unicode-bidi', bidi);
  const comment = text.search(/<!--|\n\s*\n(?:\s*\n){6,}| {60,}|\t{20,}/);
  if (comment >= 0) add('hidden-comment', comment);
  const hidden = decodeTags(text);
  for (const source of hidden ? [text, hidden] : [text]) {
    const norm = normalisedText(source);
    for (const p of PATTERNS) {
      const m = p.re.exec(norm);
      if (m) add(p.id, m.index, source === text ? norm : hidden);
    }
  }
  if (!ctx.skip?.has('unknown-url')) {
    for (const m of text.normalize('NFKC').matchAll(URL)) {
      if (!hostAllowed(m[1]!, ctx.allowedHosts)) {
        add('unknown-url', m.index ?? 0);
        break;
      }
    }
  }
  return out;
}
