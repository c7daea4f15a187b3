/** printable(): no value can start a line, move the cursor or reorder the text around it. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { printable } from '../../src/core/printable.js';

describe('printable', () => {
  test('plain text, Unicode, emoji and spaces pass unchanged', () => {
    for (const s of ['alice', 'spiffe://example.org/agent/planner', 'files/write_file', 'Zoë 東京 ✓ 👩‍💻'.replace('\u200d', ''), 'a b\u00a0c', '']) assert.equal(printable(s), s);
  });

  test('every control, separator, format (bidi, zero-width) character and lone surrogate becomes a \\uXXXX escape', () => {
    const unsafe = [
      ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)),
      '\u007f',
      ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)),
      '\u2028', '\u2029', '\u200b', '\u200d', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\ufeff', '\ud800', '\udc00',
    ];
    for (const c of unsafe) assert.equal(printable(`a${c}b`), `a\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}b`, `U+${c.charCodeAt(0).toString(16)}`);
    // An astral format character (a tag character) as its surrogate pair.
    assert.equal(printable('\u{e0001}'), '\\udb40\\udc01');
  });

  test('a forged line and an escape sequence stay on one line, inert', () => {
    const forged = 'bob\n2025-01-01T00:00:00.000Z  tools/call  admin  -  ok';
    assert.equal(printable(forged).split('\n').length, 1);
    assert.equal(printable('\u001b[2J\u001b[1;1H'), '\\u001b[2J\\u001b[1;1H');
    assert.equal(printable('x\rok'), 'x\\u000dok');
  });
});
