/**
 * Text from outside (a token's claims, a tool name, an upstream's error) made safe to print on a terminal
 * or in a one-line-per-record view: control characters (C0, DEL, C1), line and paragraph separators and
 * bidirectional overrides become visible escapes, so a value can neither start a line of its own nor move
 * the cursor, recolour the screen or reorder what follows it. A backslash is doubled, so an escape in the
 * output always stands for one character of the value and a value cannot pass as an escaped one.
 *
 *   printable('alice\n2025-01-01 tools/call ok') // 'alice\\n2025-01-01 tools/call ok' (one line)
 *   printable('\u001b[2J')                        // '\\x1b[2J'
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\\\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function printable(value: string): string {
  return value.replace(UNSAFE, (c) => NAMED[c] ?? (c.charCodeAt(0) <= 0xff ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
