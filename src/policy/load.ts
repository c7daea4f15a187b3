/**
 * Reading policy files: split each into policies (cedar-wasm), give each a stable id (`@id("...")` if
 * present, else `<file>:<index>`), keep its annotations and JSON form, and validate the set against the
 * schema in strict mode. Problems carry the policy id and `file:line:col`.
 */
import { policySetTextToParts, policyToJson, validate, type DetailedError, type PolicyJson, type Schema } from '@cedar-policy/cedar-wasm/nodejs';
import { PolicyLoadError, type PolicyProblem } from './errors.js';

export interface PolicySource {
  /** File name (or any label); used in ids and locations. */
  name: string;
  text: string;
}

export interface ParsedPolicy {
  id: string;
  /** Position in the whole set (load order). */
  index: number;
  effect: 'permit' | 'forbid';
  text: string;
  est: PolicyJson;
  annotations: Readonly<Record<string, string>>;
  /** `file:line:col` of the policy's first character. */
  location: string;
  file: string;
  /** Byte offset of the policy in its file (Cedar's locations are byte offsets). */
  byteOffset: number;
  fileText: string;
}

/** Byte offset (Cedar's locations are UTF-8 byte offsets) to `line:col`, with col counted in characters. */
class LineIndex {
  private readonly buf: Buffer;
  private readonly starts: number[] = [0];
  constructor(text: string) {
    this.buf = Buffer.from(text, 'utf8');
    for (let i = 0; i < this.buf.length; i++) if (this.buf[i] === 0x0a) this.starts.push(i + 1);
  }
  at(byteOffset: number): string {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= byteOffset) lo = mid;
      else hi = mid - 1;
    }
    const col = this.buf.subarray(this.starts[lo] as number, byteOffset).toString('utf8').length + 1;
    return `${lo + 1}:${col}`;
  }
}

/** For error paths; parseSources keeps one index per file. */
const lineCol = (text: string, byteOffset: number): string => new LineIndex(text).at(byteOffset);

function problemsOf(errors: readonly DetailedError[], file: string, text: string, base: number, policyId?: string): PolicyProblem[] {
  return errors.map((e) => {
    const at = e.sourceLocations?.[0];
    const label = at?.label ? ` (${at.label})` : '';
    return {
      ...(policyId === undefined ? {} : { policyId }),
      ...(at === undefined ? {} : { location: `${file}:${lineCol(text, base + at.start)}` }),
      message: `${e.message}${label}${e.help ? `; ${e.help}` : ''}`,
    };
  });
}

/** cedar-wasm returns the parts sorted by their positional ids (policy0, policy1, policy10, ...). */
function inSourceOrder<T>(parts: readonly T[]): T[] {
  const ids = parts.map((_, i) => `policy${i}`);
  const sorted = [...ids].sort();
  const out = new Array<T>(parts.length);
  sorted.forEach((id, k) => {
    out[Number(id.slice('policy'.length))] = parts[k] as T;
  });
  return out;
}

export function parseSources(sources: readonly PolicySource[]): ParsedPolicy[] {
  const out: ParsedPolicy[] = [];
  const problems: PolicyProblem[] = [];
  const unsupported: PolicyProblem[] = [];
  for (const src of sources) {
    const split = policySetTextToParts(src.text);
    if (split.type === 'failure') {
      problems.push(...problemsOf(split.errors, src.name, src.text, 0));
      continue;
    }
    if (split.policy_templates.length > 0) {
      unsupported.push({ location: src.name, message: 'policy templates (with ?principal or ?resource) are not supported in policy files' });
      continue;
    }
    const lines = new LineIndex(src.text);
    let cursor = 0;
    let cursorBytes = 0;
    inSourceOrder(split.policies).forEach((text, i) => {
      const at = src.text.indexOf(text, cursor);
      let byteOffset = 0;
      if (at >= 0) {
        byteOffset = cursorBytes + Buffer.byteLength(src.text.slice(cursor, at));
        cursor = at + text.length;
        cursorBytes = byteOffset + Buffer.byteLength(text);
      }
      const json = policyToJson(text);
      if (json.type === 'failure') {
        problems.push(...problemsOf(json.errors, src.name, src.text, byteOffset));
        return;
      }
      // A bare annotation (`@approval`) comes back as null: it reads as the empty string.
      const annotations = Object.fromEntries(Object.entries(json.json.annotations ?? {}).map(([k, v]) => [k, v ?? '']));
      const id = annotations.id !== undefined && annotations.id !== '' ? annotations.id : `${src.name}:${i}`;
      out.push({
        id,
        index: out.length,
        effect: json.json.effect,
        text,
        est: json.json,
        annotations,
        location: `${src.name}:${lines.at(byteOffset)}`,
        file: src.name,
        byteOffset,
        fileText: src.text,
      });
    });
  }
  if (problems.length > 0) throw new PolicyLoadError('policy_parse', problems);
  if (unsupported.length > 0) throw new PolicyLoadError('policy_unsupported', unsupported);
  const seen = new Map<string, ParsedPolicy>();
  for (const p of out) {
    const first = seen.get(p.id);
    if (first !== undefined) problems.push({ policyId: p.id, location: p.location, message: `duplicate policy id (first at ${first.location})` });
    seen.set(p.id, p);
  }
  if (problems.length > 0) throw new PolicyLoadError('policy_duplicate_id', problems);
  return out;
}

/** Strict validation against the schema; throws on any error, returns the warnings. */
export function validatePolicies(policies: readonly ParsedPolicy[], schema: Schema): PolicyProblem[] {
  const byId = new Map(policies.map((p) => [p.id, p]));
  const r = validate({ schema, policies: { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.text])) }, validationSettings: { mode: 'strict' } });
  if (r.type === 'failure') throw new PolicyLoadError('schema_invalid', problemsOf(r.errors, 'schema', typeof schema === 'string' ? schema : '', 0));
  const located = (list: readonly { policyId: string; error: DetailedError }[]): PolicyProblem[] =>
    list.flatMap((v) => {
      const p = byId.get(v.policyId);
      return p === undefined ? problemsOf([v.error], 'policy', '', 0, v.policyId) : problemsOf([v.error], p.file, p.fileText, p.byteOffset, p.id);
    });
  const errors = located(r.validationErrors);
  if (errors.length > 0) throw new PolicyLoadError('policy_invalid', errors);
  return [...located(r.validationWarnings), ...r.otherWarnings.map((w) => ({ message: w.message }))];
}
