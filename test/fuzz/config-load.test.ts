/**
 * Fuzz: loading a config. Any text in a YAML or JSON file, and any value at any path of a valid config,
 * must load or fail with a ConfigError that names the file (and, for a schema problem, the path); in
 * bounded time (YAML alias bombs included); nothing else may be thrown.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, loadConfig, validateConfig } from '../../src/config/index.js';
import { BOUND_MS, expectOnly, fuzzParams, within } from './fuzz.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-fuzz-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const VALID = {
  listen: '127.0.0.1:7400',
  auth: { issuers: [{ issuer: 'https://idp.test', jwksFile: 'jwks.json' }], requiredScopes: ['mcp'] },
  limits: { maxSessions: 100, requestTimeoutMs: 20_000 },
  audit: { arguments: 'digest' },
  mcpServers: {
    files: { command: 'npx', args: ['-y', 'server'], env: { A: 'b' }, tools: { 'write_*': { access: 'write', destructive: true } } },
    web: { url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer ${secret:web/token}' }, timeoutMs: 5000 },
  },
};

/** Every path into VALID (objects and arrays), to put something else there. */
function paths(v: unknown, at: string[] = []): string[][] {
  if (typeof v !== 'object' || v === null) return [at];
  return [at, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]))];
}
const PATHS = paths(VALID);

function setAt(root: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[path.at(-1)!] = value;
  return copy;
}

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(-1, 0, 1e308, '', '../../etc/passwd', 'x'.repeat(10_000), [], {}, null));
const mutatedConfig = fc.tuple(fc.constantFrom(...PATHS), anyValue, fc.boolean()).map(([p, v, extraKey]) => {
  const c = setAt(VALID, p, v);
  const out = extraKey && typeof c === 'object' && c !== null ? { ...(c as object), unknownKey: 1 } : c;
  return JSON.parse(JSON.stringify(out)) as unknown; // as a YAML or JSON file delivers it
});

function checkError(e: unknown, source: string): void {
  expectOnly(e, ConfigError);
  if (e instanceof ConfigError) assert.ok(e.message.includes(source), `the message names ${source}: ${e.message.slice(0, 200)}`);
}

describe('fuzz: config loading', () => {
  test('any value at any path of a valid config: a config or a ConfigError naming the path', () => {
    fc.assert(
      fc.property(mutatedConfig, (value) => {
        const { error } = within(BOUND_MS, () => validateConfig(value, 'fuzz.yaml'));
        checkError(error, 'fuzz.yaml');
        if (error instanceof ConfigError) assert.match(error.message, /^invalid config fuzz\.yaml:\n {2}- \S/);
      }),
      fuzzParams(600),
    );
  });

  const yamlish = fc.array(fc.constantFrom('a', ':', ' ', '\n', '- ', '&x ', '*x', '[', ']', '{', '}', '"', "'", '#', '!!binary ', '!!js/function ', '<<: *x', '? ', '|', '>', '\t', 'mcpServers', 'listen', '0x1', '~'), { maxLength: 80 }).map((p) => p.join(''));
  // A billion-laughs document: each alias doubles what the last one expands to.
  const bomb = fc.integer({ min: 2, max: 30 }).map((n) => ['a0: &a0 ["x","x"]', ...Array.from({ length: n }, (_, i) => `a${i + 1}: &a${i + 1} [*a${i}, *a${i}]`), `mcpServers: *a${n}`].join('\n'));
  const texts = fc.oneof(yamlish, bomb, fc.string({ unit: 'binary', maxLength: 200 }), mutatedConfig.map((c) => JSON.stringify(c)));

  test('any file text: a config or a ConfigError naming the file, in bounded time', () => {
    let n = 0;
    fc.assert(
      fc.property(texts, fc.boolean(), (text, json) => {
        const file = join(dir, `c${n++ % 50}.${json ? 'json' : 'yaml'}`);
        writeFileSync(file, text);
        const { error } = within(BOUND_MS, () => loadConfig(file));
        checkError(error, file);
      }),
      fuzzParams(500),
    );
  });
});
