/**
 * Text from outside (a token's claims, a tool name, an upstream's error, an approver's reason) made safe to
 * print on a terminal, in a one-line-per-record view or in a page: every character that would not show as
 * itself (controls such as ESC, CR and LF, DEL and C1, bidirectional overrides, zero-width and other format
 * characters, line and paragraph separators, lone surrogates) becomes a visible `\uXXXX` escape, so a value
 * can neither start a line of its own nor move the cursor, recolour the screen or reorder what follows it.
 * The one function for this: the audit tail, the approvals CLI and the approval page all print through it.
 *
 *   printable('mallory\n2025-01-01 tools/call ok')  // 'mallory\\u000a2025-01-01 tools/call ok' (one line)
 *   printable('\u001b[2J')                          // '\\u001b[2J'
 */

/** Characters that do not show as themselves: controls, format characters (bidi, zero-width), separators, lone surrogates. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

const hex4 = (n: number) => `\\u${n.toString(16).padStart(4, '0')}`;

/** `text` with every invisible character as a `\uXXXX` escape (astral format characters as their surrogate pair). */
export function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, (c) => {
    const cp = c.codePointAt(0)!;
    if (cp <= 0xffff) return hex4(cp);
    const v = cp - 0x10000;
    return hex4(0xd800 + (v >> 10)) + hex4(0xdc00 + (v & 0x3ff));
  });
}

/** One-line text (a name, a reason, an id) made safe to print: invisible characters and line breaks as escapes. */
export function printable(text: string): string {
  return escapeInvisible(text);
}
