/**
 * A config file parsed into plain values, with a way back to the text: `locate(path)` gives the line and
 * column of any value. JSON is read as JSONC (comments and trailing commas, as VS Code, Zed and Claude Code
 * accept), YAML with the yaml package's line counter, TOML with smol-toml plus toml-positions.ts.
 */
import {
  findNodeAtLocation,
  parse as parseJsonc,
  parseTree,
  printParseErrorCode,
  type Node,
  type ParseError,
} from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { LineCounter, parseDocument } from 'yaml';
import type { ClientConfig, Position } from './model.js';
import { toPointer, type Path } from './pointer.js';
import { tomlPositions } from './toml-positions.js';

export type Format = ClientConfig['format'];

export interface ParsedDocument {
  format: Format;
  /** The text, without a leading byte order mark (Windows editors write one). */
  text: string;
  /** Whether the file began with a byte order mark: a rewrite keeps it. */
  bom?: boolean;
  value: unknown;
  /** The position of the value at `path`; the nearest enclosing value's when the path has no position of its own. */
  locate(path: Path): Position;
}

export class DocumentError extends Error {
  override readonly name = 'DocumentError';
}

/** Bigger files are not client configs; reading them whole would only cost memory. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

function lineIndex(text: string): (offset: number) => Position {
  const starts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === '\n') starts.push(k + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

/** Tries the path, then ever shorter prefixes of it. */
function nearest(path: Path, find: (p: Path) => Position | undefined): Position {
  for (let n = path.length; n >= 0; n--) {
    const found = find(path.slice(0, n));
    if (found) return found;
  }
  return { line: 1, column: 1 };
}

function readJson(text: string): ParsedDocument {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const first = errors[0]!;
    const at = lineIndex(text)(first.offset);
    throw new DocumentError(
      `not valid JSON at line ${at.line}, column ${at.column}: ${printParseErrorCode(first.error)}`,
    );
  }
  const root: Node | undefined = parseTree(text, [], { allowTrailingComma: true });
  const pos = lineIndex(text);
  const hasComments = /^\s*\/\/|\/\*/m.test(text);
  return {
    format: hasComments ? 'jsonc' : 'json',
    text,
    value,
    locate: (path) =>
      nearest(path, (p) => {
        const node = root && findNodeAtLocation(root, [...p]);
        return node ? pos(node.offset) : undefined;
      }),
  };
}

function readYaml(text: string): ParsedDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new DocumentError(`not valid YAML at line ${e.linePos?.[0]?.line ?? '?'}: ${e.code}`);
  }
  return {
    format: 'yaml',
    text,
    value: doc.toJS({ maxAliasCount: 100 }) as unknown,
    locate: (path) =>
      nearest(path, (p) => {
        const node = p.length === 0 ? doc.contents : doc.getIn([...p], true);
        const range = (node as { range?: [number, number, number] } | undefined)?.range;
        if (!range) return undefined;
        const { line, col } = lineCounter.linePos(range[0]);
        return { line, column: col };
      }),
  };
}

function readToml(text: string): ParsedDocument {
  let value: unknown;
  try {
    value = parseToml(text);
  } catch (err) {
    // smol-toml's messages quote the offending line, which may hold a secret: keep only its position.
    const m = /line (\d+)/i.exec((err as Error).message);
    throw new DocumentError(`not valid TOML${m ? ` at line ${m[1]}` : ''}`);
  }
  const positions = tomlPositions(text);
  return { format: 'toml', text, value, locate: (path) => nearest(path, (p) => positions.get(toPointer(p))) };
}

/** Parses by file name: *.toml as TOML, *.yaml/*.yml as YAML, everything else as JSON with comments. */
export function readDocument(file: string, raw: string): ParsedDocument {
  if (raw.length > MAX_CONFIG_BYTES) throw new DocumentError(`larger than ${MAX_CONFIG_BYTES} bytes`);
  const bom = raw.startsWith('\uFEFF');
  const text = bom ? raw.slice(1) : raw;
  const lower = file.toLowerCase();
  const doc = lower.endsWith('.toml')
    ? readToml(text)
    : lower.endsWith('.yaml') || lower.endsWith('.yml')
      ? readYaml(text)
      : readJson(text);
  return bom ? { ...doc, bom } : doc;
}
