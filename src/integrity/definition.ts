/**
 * What a pin covers: the parts of a tool or prompt definition a model reads or a client relies on (name,
 * title, description, input and output schema, annotations; a prompt's arguments), as canonical JSON, and
 * its sha256. `_meta`, icons and other decoration are left out, so they do not quarantine a tool.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/digest.js';

export type DefinitionKind = 'tool' | 'prompt';

const TOOL_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;
const PROMPT_FIELDS = ['name', 'title', 'description', 'arguments'] as const;

/** The pinned part of a listed item. */
export function definitionOf(kind: DefinitionKind, item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of kind === 'tool' ? TOOL_FIELDS : PROMPT_FIELDS) if (item[f] !== undefined) out[f] = item[f];
  return out;
}

/** Canonical JSON (sorted keys) of the pinned part: what is stored and diffed. */
export function definitionText(kind: DefinitionKind, item: Record<string, unknown>): string {
  return canonicalJson(definitionOf(kind, item));
}

export function digestOf(text: string): string {
  return 'sha256:' + createHash('sha256').update(text).digest('hex');
}
