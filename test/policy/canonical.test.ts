/**
 * Canonical URIs and paths (issue 11 item 2): every spelling of one address gets one form, the form is
 * stable (canonicalising it again changes nothing), and spellings that servers read differently are refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CanonicalError, canonicalPath, canonicalUri } from '../../src/policy/index.js';

describe('canonical URIs', () => {
  test('one form for every spelling of one resource', () => {
    const same = (want: string, ...spellings: string[]) => spellings.forEach((s) => assert.equal(canonicalUri(s), want, s));
    same('file:///data/secret/s.txt', 'file:///data/secret/s.txt', 'FILE:///data/secret/s.txt', 'file:///data/pub/../secret/s.txt', 'file:///data/./secret/s.txt', 'file:///data/%73ecret/s.txt', 'file:///data/pub/%2e%2e/secret/s.txt', 'file://localhost/data/secret/s.txt', 'file:///data/pub\\..\\secret/s.txt');
    same('demo://resource/static/document/a.md', 'DEMO://Resource/static/document/a.md', 'demo://resource/static/x/../document/a.md', 'demo://resource/static/document/%61.md');
    same('https://example.com/a%2Fb?q=%2F', 'HTTPS://Example.COM:443/x/../a%2fb?q=%2f');
    same('http://example.com:8080/', 'http://EXAMPLE.com:8080/');
  });

  test('Unicode is NFC whether it comes encoded, composed or decomposed', () => {
    const composed = 'file:///data/caf\u00e9.txt';
    assert.equal(canonicalUri('file:///data/cafe\u0301.txt'), composed);
    assert.equal(canonicalUri('file:///data/caf%C3%A9.txt'), composed);
    assert.equal(canonicalUri('file:///data/cafe%CC%81.txt'), composed);
  });

  test('characters not allowed raw are encoded; reserved ones keep their spelling outside file URIs', () => {
    assert.equal(canonicalUri('file:///data/my file.txt'), 'file:///data/my%20file.txt');
    assert.equal(canonicalUri('file:///data/my%20file.txt'), 'file:///data/my%20file.txt');
    assert.equal(canonicalUri('file:///data/a%3Bb'), 'file:///data/a;b', 'in a file path ; and %3B are one file');
    assert.equal(canonicalUri('test://x/a%3Bb'), 'test://x/a%3Bb', 'elsewhere they differ (RFC 3986)');
    assert.equal(canonicalUri('test://x/{id}', { template: true }), 'test://x/{id}');
    assert.equal(canonicalUri('test://x/%%341'), 'test://x/%254' + '1', 'a lone % is a percent sign, never the start of a new escape');
  });

  test('spellings with no single meaning are refused', () => {
    for (const bad of ['file:///data/pub%2F..%2Fsecret/s.txt', 'file:///data/a%5Cb', 'file:///data/a%00b', 'file:///a\0b', 'relative/path', '/abs/path']) {
      assert.throws(() => canonicalUri(bad), CanonicalError, bad);
    }
  });

  test('canonicalising a canonical URI changes nothing, and no dot segment survives (2,000 random spellings)', () => {
    // A small seeded generator (xorshift): reproducible, no dependency.
    let seed = 0x2545f491;
    const next = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const alphabet = ['a', 'Z', '0', '.', '..', '%2e', '%2E', '%41', '%c3%a9', 'e\u0301', ' ', '%20', ';', '%3B', '~', '%7E', '@', ':', '%', '%zz', '{', '\\'];
    for (let i = 0; i < 2000; i++) {
      const scheme = ['file', 'demo', 'https'][next(3)]!;
      const segments = Array.from({ length: next(6) }, () => Array.from({ length: next(4) }, () => alphabet[next(alphabet.length)]).join(''));
      const input = `${scheme}://${next(2) ? 'Host' : ''}/${segments.join('/')}`;
      let first: string;
      try {
        first = canonicalUri(input);
      } catch (err) {
        assert.ok(err instanceof CanonicalError, `${input}: ${String(err)}`);
        continue;
      }
      assert.equal(canonicalUri(first), first, input);
      assert.doesNotMatch(first.slice(first.indexOf('//') + 2), /\/\.\.?(\/|$)/, input);
    }
  });
});

describe('canonical paths', () => {
  test('absolute paths collapse; relative ones resolve against the first root', () => {
    assert.equal(canonicalPath('/data/pub/../secret//s.txt/'), '/data/secret/s.txt');
    assert.equal(canonicalPath('secret/s.txt', ['/data', '/other']), '/data/secret/s.txt');
    assert.equal(canonicalPath('./a/b', []), 'a/b');
    assert.throws(() => canonicalPath('../x'), /climb/);
    assert.throws(() => canonicalPath('/a\0'), /NUL/);
    assert.equal(canonicalPath('file:///data/pub/../x'), 'file:///data/x', 'a URI in a path argument is canonicalised as a URI');
  });
});
