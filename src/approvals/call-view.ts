/**
 * What an approver is shown of a held call: the complete params forwarded to the upstream (every key, at
 * every depth, every value in full; values injected from the vault appear as `[redacted:NAME]`), laid out as
 * indented JSON with the size of every object and array (its keys or items, and its bytes as compact JSON)
 * and of every long string (its characters, and its UTF-8 bytes where they differ). Nothing is cut or hidden, so a payload
 * after the 256th character, under a key named like a credential, nested deep or past the 64th key is there.
 *
 * Every string and key is written as a JSON string literal, and characters that would not show as
 * themselves (controls such as ESC and CR, bidirectional overrides, zero-width and other format characters,
 * line and paragraph separators, lone surrogates) are written as `\uXXXX` escapes, so the text holds no
 * control character but its own line breaks: a terminal shows it as it is, and the page HTML-escapes it.
 *
 *   renderCall({ name: 'write_file', arguments: { path: '/data/a.txt', content: 'x'.repeat(300) } })
 *   // {  // 2 keys, 346 bytes
 *   //   "name": "write_file",
 *   //   "arguments": {  // 2 keys, 323 bytes
 *   //     "path": "/data/a.txt",
 *   //     "content": "xxx…xxx"  // 300 characters
 *   //   }
 *   // }
 */
import { escapeInvisible, printable } from '../core/printable.js';

/** Strings at least this long are annotated with their length. */
const ANNOTATE_FROM = 64;

/** A JSON string literal of `s` in which every character shows as itself or as an escape. */
export function literal(s: string): string {
  return escapeInvisible(JSON.stringify(s));
}

export { printable };

const count = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Rendered {
  /** The lines, the first without indentation (it follows a key or starts the document). */
  lines: string[];
  /** A size note for the end of the last line, after the comma that may follow the value. */
  note: string;
  /** Bytes of the value as compact JSON (UTF-8). */
  bytes: number;
}

function scalar(value: unknown): Rendered {
  if (typeof value === 'string') {
    const json = JSON.stringify(value);
    const chars = [...value].length;
    const utf8 = Buffer.byteLength(value);
    const note = chars >= ANNOTATE_FROM ? `  // ${count(chars, 'character')}${utf8 !== chars ? `, ${count(utf8, 'byte')} UTF-8` : ''}` : '';
    return { lines: [escapeInvisible(json)], note, bytes: Buffer.byteLength(json) };
  }
  const json = JSON.stringify(value) ?? 'null';
  return { lines: [json], note: '', bytes: Buffer.byteLength(json) };
}

function render(value: unknown): Rendered {
  const array = Array.isArray(value);
  if (!array && !isRecord(value)) return scalar(value);
  const entries: Array<[string | null, unknown]> = array ? value.map((v) => [null, v]) : Object.keys(value).map((k) => [k, value[k]]);
  if (entries.length === 0) return { lines: [array ? '[]' : '{}'], note: '', bytes: 2 };
  const body: string[] = [];
  let bytes = 2 + entries.length - 1;
  entries.forEach(([key, v], i) => {
    const inner = render(v);
    const prefix = key === null ? '' : `${literal(key)}: `;
    bytes += inner.bytes + (key === null ? 0 : Buffer.byteLength(JSON.stringify(key)) + 1);
    const comma = i < entries.length - 1 ? ',' : '';
    const last = inner.lines.length - 1;
    inner.lines.forEach((line, j) => {
      const text = (j === 0 ? prefix + line : line) + (j === last ? comma + inner.note : '');
      body.push(`  ${text}`);
    });
  });
  const size = `  // ${count(entries.length, array ? 'item' : 'key')}, ${count(bytes, 'byte')}`;
  return { lines: [(array ? '[' : '{') + size, ...body, array ? ']' : '}'], note: '', bytes };
}

/** The approver's view of a call's params: indented, escaped, with sizes (see above). */
export function renderCall(params: unknown): string {
  const r = render(params);
  return r.lines.join('\n') + r.note;
}

/** The size of a value as compact JSON, in bytes. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null');
}
