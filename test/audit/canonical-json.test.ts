import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { argsDigest, canonicalJson, MAX_ARGS_DEPTH } from '../../src/audit/digest.js';

/** The form canonicalJson had before it was rewritten with loops: every stored hash depends on the same bytes. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => reference(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`).join(',')}}`;
}

/** Deterministic pseudo-random values of every JSON shape, plus undefined members and odd keys. */
function randomValue(seed: { s: number }, depth: number): unknown {
  const r = () => ((seed.s = (seed.s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const k = depth > 4 ? Math.floor(r() * 5) : Math.floor(r() * 8);
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return r() < 0.3 ? -0 : (r() - 0.5) * 1e6;
    case 3: return ['', 'a"b', 'ü\u2028\n', '\ud800', 'key'][Math.floor(r() * 5)];
    case 4: return undefined;
    case 5: case 6: {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < Math.floor(r() * 5); i++) o[['b', 'a', '', '"q"', '10', '2', 'é'][Math.floor(r() * 7)] as string] = randomValue(seed, depth + 1);
      return o;
    }
    default: return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(seed, depth + 1));
  }
}

describe('canonicalJson', () => {
  test('is byte for byte the reference form over thousands of values (a changed byte would break every stored hash)', () => {
    const seed = { s: 42 };
    for (let i = 0; i < 5000; i++) {
      const v = randomValue(seed, 0);
      assert.equal(canonicalJson(v), reference(v));
    }
  });

  test('sorts keys, leaves out undefined members, keeps array holes and undefined array items as before', () => {
    // eslint-disable-next-line no-sparse-arrays
    const v = { b: 1, a: [undefined, , 3], c: undefined, '': { z: null, y: [] } };
    assert.equal(canonicalJson(v), reference(v));
    assert.equal(canonicalJson(v), '{"":{"y":[],"z":null},"a":[null,,3],"b":1}');
  });

  test('refuses nesting past the limit instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_ARGS_DEPTH + 5; i++) deep = [deep];
    assert.throws(() => canonicalJson(deep), /nested deeper than/);
  });

  test('argsDigest is sha256 over the canonical form', () => {
    const args = { path: '/data/x', n: [1, 2] };
    assert.equal(argsDigest(args), 'sha256:' + createHash('sha256').update(reference(args)).digest('hex'));
    assert.equal(argsDigest(undefined), null);
  });
});
