/** Identifier sources: pooled random ids and UUIDv7 order. */
import { describe, test as it } from 'node:test';
import assert from 'node:assert/strict';
import { randomId, uuidv7 } from '../../src/core/ids.js';

describe('identifier sources', () => {
  it('randomId gives the asked number of bytes, never the same twice, across pool refills', () => {
    const seen = new Set<string>();
    // 4 KiB pool / 12 bytes: 1,000 ids refill it several times.
    for (let i = 0; i < 1000; i++) {
      const id = randomId(12);
      assert.equal(Buffer.from(id, 'base64url').length, 12);
      assert.match(id, /^[A-Za-z0-9_-]{16}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 1000);
  });

  it('randomId refuses sizes it was not made for', () => {
    for (const n of [0, -1, 65, 1.5, Number.NaN]) assert.throws(() => randomId(n), RangeError);
  });

  it('uuidv7 ids increase within one millisecond and across refills of the shared pool', () => {
    let last = '';
    for (let i = 0; i < 600; i++) {
      randomId(40); // draws from the same pool
      const id = uuidv7(1_700_000_000_000);
      assert.ok(id > last, `${id} after ${last}`);
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      last = id;
    }
  });
});
