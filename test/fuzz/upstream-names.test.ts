/**
 * Fuzz: matching upstream names without backtracking. URI templates (from upstreams) and tool-name globs
 * (from the config, against upstream names) used to compile to regular expressions, which backtrack: a
 * template built for it took minutes on a 40-character URI. The linear matchers must agree with those
 * regular expressions wherever the expressions finish (short inputs), and stay fast where they would not.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { globMatches } from '../../src/gateway/classification.js';
import { templateMatches } from '../../src/gateway/uri-template.js';
import { BOUND_MS, fuzzParams, within } from './fuzz.js';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The regular expression the gateway used to build from a template (the reference, on short input). */
function templateRegex(template: string): RegExp {
  let pattern = '';
  let last = 0;
  for (const m of template.matchAll(/\{([+#./;?&]?)([^}]*)\}/g)) {
    pattern += escape(template.slice(last, m.index));
    const op = m[1];
    const explode = (m[2] ?? '').endsWith('*');
    pattern += op === '+' || op === '#' || explode ? '.*' : op === '?' || op === '&' ? '(?:[?&].*)?' : '[^/?#]*';
    last = m.index + m[0].length;
  }
  return new RegExp(`^${pattern}${escape(template.slice(last))}$`);
}

const globRegex = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');

const templatePart = fc.constantFrom('a', 'b', '/', '?', '&', '#', '=', '\n', '{x}', '{+p}', '{#f}', '{?q}', '{&r}', '{s*}', '{/t}', '{', '}');
const uriPart = fc.constantFrom('a', 'b', '/', '?', '&', '#', '=', '\n', '\u2028', 'x');
const globPart = fc.constantFrom('a', 'b', '*', '?', '_', '.', '\n', '[', '\\');
const namePart = fc.constantFrom('a', 'b', '_', '.', '\n', '*', '?');
const join = (a: fc.Arbitrary<string>, max: number) => fc.array(a, { maxLength: max }).map((p) => p.join(''));

describe('fuzz: matching upstream names', () => {
  test('URI templates: the same answers as the regular expression, on short input', () => {
    fc.assert(
      fc.property(join(templatePart, 8), join(uriPart, 10), (template, uri) => {
        assert.equal(templateMatches(template, uri), templateRegex(template).test(uri));
      }),
      fuzzParams(3000),
    );
  });

  test('URI templates: long hostile input is answered in bounded time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.constantFrom('{+a}a', '{a}a', '{?q}a', '{a*}/'), fc.integer({ min: 100, max: 65_536 }), (n, unit, length) => {
        within(BOUND_MS * 4, () => templateMatches(`x://${unit.repeat(n)}!`, `x://${'a'.repeat(length)}`));
      }),
      fuzzParams(40),
    );
  });

  test('tool globs: the same answers as the regular expression, and linear on long names', () => {
    fc.assert(
      fc.property(join(globPart, 8), join(namePart, 12), (glob, name) => {
        assert.equal(globMatches(glob, name), globRegex(glob).test(name));
      }),
      fuzzParams(3000),
    );
    within(BOUND_MS, () => globMatches('*a*a*a*a*a*a*a*a*b', 'a'.repeat(256)));
  });
});
