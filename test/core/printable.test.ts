/** printable(): no value can start a line, move the cursor or reorder the text around it. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { printable } from '../../src/core/printable.js';

describe('printable', () => {
  test('plain text, Unicode and spaces pass unchanged', () => {
    for (const s of ['alice', 'spiffe://example.org/agent/planner', 'files/write_file', 'Zoë 東京 ✓', 'a b\u00a0c', '']) assert.equal(printable(s), s);
  });

  test('every control, separator and bidi character becomes a visible escape', () => {
    const unsafe = [
      ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)),
      '\u007f',
      ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)),
      '\u2028', '\u2029', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069',
    ];
    for (const c of unsafe) {
      const out = printable(`a${c}b`);
      assert.notEqual(out, `a${c}b`, `U+${c.charCodeAt(0).toString(16)}`);
      assert.match(out, /^a\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[nrt])b$/);
    }
  });

  test('a forged line, an escape sequence and a fake escape stay one line and tell apart', () => {
    const forged = 'bob\n2025-01-01T00:00:00.000Z  tools/call  admin  -  ok';
    assert.equal(printable(forged).split('\n').length, 1);
    assert.equal(printable('\u001b[2J\u001b[1;1H'), '\\x1b[2J\\x1b[1;1H');
    assert.equal(printable('\r'), '\\r');
    // A value that spells an escape is not confused with one: the backslash is doubled.
    assert.notEqual(printable('\\x1b'), printable('\u001b'));
    assert.equal(printable('\\x1b'), '\\\\x1b');
  });
});
