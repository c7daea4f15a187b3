/**
 * Where each value of a TOML document is, by JSON pointer. smol-toml parses values but keeps no positions,
 * so this walks the text once with just enough of TOML's grammar (tables, arrays of tables, dotted and
 * quoted keys, inline tables, arrays, the four string forms) to place every key and value.
 */
import type { Position } from './model.js';
import { toPointer } from './pointer.js';

type Path = (string | number)[];

export function tomlPositions(text: string): Map<string, Position> {
  const out = new Map<string, Position>();
  const lineStarts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === '\n') lineStarts.push(k + 1);
  const at = (offset: number): Position => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo]! + 1 };
  };
  const record = (path: Path, offset: number): void => {
    const key = toPointer(path);
    if (!out.has(key)) out.set(key, at(offset));
  };
  const arrayTables = new Map<string, number>();
  let i = 0;
  let table: Path = [];

  const skip = (newlines: boolean): void => {
    while (i < text.length) {
      const c = text[i]!;
      if (c === ' ' || c === '\t' || c === '\r' || (newlines && c === '\n')) i++;
      else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
      else break;
    }
  };
  const quoted = (q: string): string => {
    const multi = text.startsWith(q.repeat(3), i);
    const end = q.repeat(multi ? 3 : 1);
    i += end.length;
    let s = '';
    while (i < text.length && !text.startsWith(end, i)) {
      if (q === '"' && text[i] === '\\') {
        s += text.slice(i, i + 2);
        i += 2;
      } else s += text[i++];
    }
    i += end.length;
    return s;
  };
  const keyPart = (): string => {
    skip(false);
    const c = text[i];
    if (c === '"' || c === "'") return quoted(c);
    const start = i;
    while (i < text.length && /[A-Za-z0-9_-]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  const dottedKey = (): string[] => {
    const parts = [keyPart()];
    skip(false);
    while (text[i] === '.') {
      i++;
      parts.push(keyPart());
      skip(false);
    }
    return parts;
  };
  const value = (path: Path): void => {
    skip(true);
    record(path, i);
    const c = text[i];
    if (c === '"' || c === "'") return void quoted(c);
    if (c === '[') {
      i++;
      for (let n = 0; ; n++) {
        skip(true);
        if (text[i] === ']' || i >= text.length) break;
        value([...path, n]);
        skip(true);
        if (text[i] === ',') i++;
      }
      i++;
      return;
    }
    if (c === '{') {
      i++;
      for (;;) {
        skip(true);
        if (text[i] === '}' || i >= text.length) break;
        const keyAt = i;
        const k = dottedKey();
        record([...path, ...k], keyAt);
        skip(false);
        if (text[i] === '=') i++;
        value([...path, ...k]);
        skip(true);
        if (text[i] === ',') i++;
      }
      i++;
      return;
    }
    while (i < text.length && !/[,\]}\n#]/.test(text[i]!)) i++;
  };

  while (i < text.length) {
    skip(true);
    if (i >= text.length) break;
    if (text[i] === '[') {
      const headerAt = i;
      const isArray = text[i + 1] === '[';
      i += isArray ? 2 : 1;
      const k = dottedKey();
      i += isArray ? 2 : 1;
      if (isArray) {
        const id = toPointer(k);
        const n = arrayTables.get(id) ?? 0;
        arrayTables.set(id, n + 1);
        table = [...k, n];
      } else table = k;
      record(table, headerAt);
      continue;
    }
    const keyAt = i;
    const k = dottedKey();
    if (k.length === 1 && k[0] === '') {
      // Not a key: skip the line rather than loop on it.
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    record([...table, ...k], keyAt);
    skip(false);
    if (text[i] === '=') i++;
    value([...table, ...k]);
  }
  return out;
}
