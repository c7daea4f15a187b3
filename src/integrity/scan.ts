/**
 * The poisoning checks on one tool or prompt definition: every text a model reads in it (description,
 * title, each schema property's description, title, default, examples and enum values, prompt arguments),
 * its parameter names, its size, and what it says about other servers' tools (shadowing).
 */
import { INTEGRITY_RULES, type Finding } from './rules.js';
import { checkText, normalisedText, type TextContext } from './text-checks.js';
import type { DefinitionKind } from './definition.js';

export interface ScanContext extends TextContext {
  /** The upstream serving the definition. */
  upstream: string;
  /** Longest description (of the item or of one property) before `outsized-description`. */
  maxDescriptionChars: number;
  /** Other upstreams' tools by lowercased name, both as their upstream names them and as exposed. */
  others: ReadonlyMap<string, OtherTool[]>;
  /** The other upstreams' names. */
  otherServers: readonly string[];
}

export interface OtherTool {
  upstream: string;
  /** As its upstream names it. */
  name: string;
  exposed: string;
}

/** The index `others` of a scan: every tool of other upstreams under its name and its exposed name, lowercased. */
export function otherToolIndex(tools: readonly OtherTool[]): Map<string, OtherTool[]> {
  const m = new Map<string, OtherTool[]>();
  const add = (k: string, t: OtherTool) => {
    const l = m.get(k);
    if (l) l.push(t);
    else m.set(k, [t]);
  };
  for (const t of tools) {
    add(t.name.toLowerCase(), t);
    if (t.exposed !== t.name) add(t.exposed.toLowerCase(), t);
  }
  return m;
}

const SERVER_WORDS = new Set(['server', 'tool', 'tools', 'mcp', 'integration', 'plugin']);

export interface ScanResult {
  findings: Finding[];
  /** The other servers this definition shadows (names or mentions their tools). */
  shadows: string[];
}

const EXFIL_PARAM = /^(?:side_?note|notes?_?(?:for|to)_?(?:the_?)?(?:model|ai|assistant|llm)|system_?prompt|conversation(?:_?history)?|chat_?history|previous_?messages|full_?context|user_?context|hidden(?:_\w+)?|internal_?(?:note|notes|data)|debug_?(?:info|data|context)|extra_?context)$/i;
const CRED_PARAM = /^(?:password|passwd|pass_?phrase|api_?key|apikey|secret(?:_?key)?|access_?token|auth_?token|token|private_?key|ssh_?key|credentials?)$/i;
const MAX_TEXTS = 2000;
const MAX_DEPTH = 24;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Text {
  where: string;
  text: string;
  description?: boolean;
}

/** Every string a model reads in a JSON schema, and its property names, bounded in count and depth. */
function schemaTexts(schema: unknown, where: string, texts: Text[], params: { where: string; name: string }[], depth = 0): void {
  if (!isObject(schema) || depth > MAX_DEPTH || texts.length >= MAX_TEXTS) return;
  for (const key of ['description', 'title', '$comment'] as const) {
    if (typeof schema[key] === 'string') texts.push({ where: `${where}.${key}`, text: schema[key], description: key === 'description' });
  }
  for (const key of ['default', 'examples', 'enum', 'const'] as const) stringsIn(schema[key], `${where}.${key}`, texts, depth);
  if (isObject(schema.properties)) {
    for (const [name, sub] of Object.entries(schema.properties)) {
      params.push({ where: `${where}.properties.${name}`, name });
      texts.push({ where: `${where}.properties.${name}`, text: name });
      schemaTexts(sub, `${where}.properties.${name}`, texts, params, depth + 1);
    }
  }
  for (const key of ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains']) schemaTexts(schema[key], `${where}.${key}`, texts, params, depth + 1);
  for (const key of ['anyOf', 'oneOf', 'allOf', 'prefixItems']) {
    const list = schema[key];
    if (Array.isArray(list)) list.forEach((s, i) => schemaTexts(s, `${where}.${key}[${i}]`, texts, params, depth + 1));
  }
  for (const key of ['$defs', 'definitions', 'patternProperties']) {
    const defs = schema[key];
    if (isObject(defs)) for (const [n, s] of Object.entries(defs)) schemaTexts(s, `${where}.${key}.${n}`, texts, params, depth + 1);
  }
}

function stringsIn(v: unknown, where: string, texts: Text[], depth: number): void {
  if (texts.length >= MAX_TEXTS || depth > MAX_DEPTH) return;
  if (typeof v === 'string') texts.push({ where, text: v });
  else if (Array.isArray(v)) v.forEach((x, i) => stringsIn(x, `${where}[${i}]`, texts, depth + 1));
  else if (isObject(v)) for (const [k, x] of Object.entries(v)) stringsIn(x, `${where}.${k}`, texts, depth + 1);
}

function definitionTexts(kind: DefinitionKind, item: Record<string, unknown>): { texts: Text[]; params: { where: string; name: string }[] } {
  const texts: Text[] = [];
  const params: { where: string; name: string }[] = [];
  if (typeof item.name === 'string') texts.push({ where: 'name', text: item.name });
  if (typeof item.title === 'string') texts.push({ where: 'title', text: item.title });
  if (typeof item.description === 'string') texts.push({ where: 'description', text: item.description, description: true });
  if (kind === 'tool') {
    if (isObject(item.annotations)) stringsIn(item.annotations, 'annotations', texts, 0);
    schemaTexts(item.inputSchema, 'inputSchema', texts, params);
    schemaTexts(item.outputSchema, 'outputSchema', texts, params);
  } else if (Array.isArray(item.arguments)) {
    item.arguments.forEach((a, i) => {
      if (!isObject(a)) return;
      if (typeof a.name === 'string') params.push({ where: `arguments[${i}]`, name: a.name });
      for (const key of ['name', 'title', 'description'] as const) {
        if (typeof a[key] === 'string') texts.push({ where: `arguments[${i}].${key}`, text: a[key], description: key === 'description' });
      }
    });
  }
  return { texts, params };
}

/** A tool name distinctive enough that mentioning it means that tool (`send_email`, `readFile`; not `search`). */
const distinctive = (name: string) => name.length >= 5 && (/[_-]/.test(name) || /[a-z][A-Z]/.test(name));

function finding(id: string, where: string, excerpt: string): Finding {
  const r = INTEGRITY_RULES[id]!;
  return { id, severity: r.severity, refs: r.refs, where, excerpt: excerpt.slice(0, 120) };
}

/** Runs every check on one definition. */
export function scanDefinition(kind: DefinitionKind, item: Record<string, unknown>, ctx: ScanContext): ScanResult {
  const { texts, params } = definitionTexts(kind, item);
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const push = (f: Finding) => {
    if (seen.has(f.id)) return;
    seen.add(f.id);
    findings.push(f);
  };
  for (const t of texts) {
    for (const f of checkText(t.text, t.where, ctx)) push(f);
    if (t.description && t.text.length > ctx.maxDescriptionChars) push(finding('outsized-description', t.where, `${t.text.length} characters (limit ${ctx.maxDescriptionChars})`));
  }
  for (const p of params) {
    if (EXFIL_PARAM.test(p.name)) push(finding('exfiltration-parameter', p.where, p.name));
    else if (CRED_PARAM.test(p.name)) push(finding('credential-parameter', p.where, p.name));
  }
  const shadows = new Set<string>();
  const own = typeof item.name === 'string' ? item.name : '';
  if (kind === 'tool') {
    const same = ctx.others.get(own.toLowerCase())?.filter((o) => o.name === own);
    if (same && same.length > 0) {
      for (const o of same) shadows.add(o.upstream);
      push(finding('shadowing-name', 'name', `${own} is also a tool of ${[...new Set(same.map((o) => o.upstream))].join(', ')}`));
    }
  }
  // Mentions are found by words, not one pattern per other tool: a catalog of 500 tools stays cheap to scan.
  const words = texts
    .filter((t) => t.where !== 'name')
    .map((t) => normalisedText(t.text))
    .join(' ')
    .split(/[^a-z0-9_-]+/)
    .filter((w) => w.length > 0);
  const ownLower = own.toLowerCase();
  const servers = new Set(ctx.otherServers.filter((s) => s.length >= 3).map((s) => s.toLowerCase()));
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w !== ownLower) {
      for (const o of ctx.others.get(w) ?? []) {
        if (w !== o.exposed.toLowerCase() && !distinctive(o.name)) continue;
        shadows.add(o.upstream);
        push(finding('shadowing-reference', 'description', `mentions ${o.name} of ${o.upstream}`));
      }
    }
    if (servers.has(w) && SERVER_WORDS.has(words[i + 1] ?? '')) {
      shadows.add(ctx.otherServers.find((s) => s.toLowerCase() === w)!);
      push(finding('shadowing-reference', 'description', `mentions the ${w} server`));
    }
  }
  return { findings, shadows: [...shadows].sort() };
}

/** The checks that apply to a tool's result (what it returned is text a model reads). */
export function scanResultValue(result: unknown, allowedHosts: readonly string[]): Finding[] {
  const texts: Text[] = [];
  const content = isObject(result) ? result.content : undefined;
  if (Array.isArray(content)) {
    content.forEach((c, i) => {
      if (!isObject(c)) return;
      if (typeof c.text === 'string') texts.push({ where: `content[${i}].text`, text: c.text });
      if (isObject(c.resource) && typeof c.resource.text === 'string') texts.push({ where: `content[${i}].resource.text`, text: c.resource.text });
    });
  }
  if (isObject(result) && result.structuredContent !== undefined) stringsIn(result.structuredContent, 'structuredContent', texts, 0);
  const skip = new Set(['unknown-url', 'outsized-description']);
  const out: Finding[] = [];
  for (const t of texts) for (const f of checkText(t.text, t.where, { allowedHosts, skip })) if (!out.some((x) => x.id === f.id)) out.push(f);
  return out;
}
