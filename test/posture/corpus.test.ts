/**
 * The scan against a corpus of real-format client configs (test/fixtures/posture-corpus/: Claude Desktop on
 * three OSes, Claude Code, Cursor, VS Code, Windsurf, Codex, Gemini CLI, Zed, Continue, Cline, warden.yaml),
 * each case with planted problems or none (clean controls) and its expected findings. Prints precision and
 * recall per rule and fails below 0.95 for any rule. Every planted secret must be found, and must appear in
 * no output format.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { renderJson, renderSarif, renderText, scan, SCAN_RULES, type ScanResult } from '../../src/posture/index.js';

const CORPUS = new URL('../fixtures/posture-corpus/', import.meta.url).pathname;

interface Expected {
  description: string;
  now: string;
  home?: string;
  paths?: string[];
  findings: Array<{ file: string; rule: string; pointer: string }>;
  secrets: string[];
}

interface Case {
  name: string;
  dir: string;
  expected: Expected;
  result: ScanResult;
}

async function runCase(name: string): Promise<Case> {
  const dir = join(CORPUS, name);
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
  const home = join(dir, expected.home ?? 'no-home');
  const paths = (expected.paths ?? ['.']).map((p) => join(dir, p));
  const result = await scan({ paths, home, cwd: dir, env: {}, now: new Date(expected.now) });
  return { name, dir, expected, result };
}

const key = (f: { file: string; rule: string; pointer: string }) => `${f.file} | ${f.rule} | ${f.pointer}`;

describe('posture scan corpus', async () => {
  const names = readdirSync(CORPUS)
    .filter((n) => existsSync(join(CORPUS, n, 'expected.json')))
    .sort();
  const cases = await Promise.all(names.map(runCase));

  test('the corpus has at least 40 client config files, with clean controls', () => {
    const files = cases.reduce((n, c) => n + c.result.configs.length + c.result.unreadable.length, 0);
    assert.ok(files >= 40, `only ${files} config files`);
    assert.ok(cases.filter((c) => c.expected.findings.length === 0).length >= 5, 'fewer than 5 clean controls');
  });

  test('precision and recall per rule are at least 0.95', () => {
    const stats = new Map(SCAN_RULES.map((r) => [r.id, { tp: 0, fp: 0, fn: 0 }]));
    const misses: string[] = [];
    for (const c of cases) {
      const expected = new Set(c.expected.findings.map(key));
      const found = new Set(
        c.result.findings.map((f) => key({ file: relative(c.dir, f.file), rule: f.rule, pointer: f.pointer })),
      );
      for (const k of found) {
        const rule = k.split(' | ')[1]!;
        if (expected.has(k)) stats.get(rule)!.tp++;
        else {
          stats.get(rule)!.fp++;
          misses.push(`${c.name}: unexpected ${k}`);
        }
      }
      for (const k of expected) {
        if (found.has(k)) continue;
        stats.get(k.split(' | ')[1]!)!.fn++;
        misses.push(`${c.name}: missed ${k}`);
      }
    }
    const rows = [...stats].map(([rule, s]) => {
      const precision = s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp);
      const recall = s.tp + s.fn === 0 ? 1 : s.tp / (s.tp + s.fn);
      return { rule, ...s, precision, recall };
    });
    console.log(
      [
        'rule                      TP  FP  FN  precision  recall',
        ...rows.map(
          (r) =>
            `${r.rule.padEnd(24)} ${String(r.tp).padStart(3)} ${String(r.fp).padStart(3)} ${String(r.fn).padStart(3)}  ${r.precision.toFixed(3).padStart(9)}  ${r.recall.toFixed(3).padStart(6)}`,
        ),
      ].join('\n'),
    );
    if (misses.length > 0) console.log(misses.join('\n'));
    for (const r of rows) {
      assert.ok(r.tp + r.fn > 0, `the corpus plants no ${r.rule}`);
      assert.ok(r.precision >= 0.95, `${r.rule}: precision ${r.precision.toFixed(3)}`);
      assert.ok(r.recall >= 0.95, `${r.rule}: recall ${r.recall.toFixed(3)}`);
    }
  });

  test('the unreadable file is reported, not fatal', () => {
    const c = cases.find((x) => x.name === 'unreadable')!;
    assert.equal(c.result.unreadable.length, 1);
    assert.match(c.result.unreadable[0]!.reason, /not valid JSON at line \d+/);
    assert.equal(c.result.configs.length, 1);
  });

  test('every planted secret is found, and no output format prints one', () => {
    for (const c of cases) {
      for (const s of c.expected.secrets)
        assert.ok(c.result.secretValues.includes(s), `${c.name}: a planted secret was not found`);
      const outputs = {
        text: renderText(c.result, { cwd: c.dir, version: 't' }),
        json: renderJson(c.result, { cwd: c.dir, version: 't' }),
        sarif: renderSarif(c.result, { cwd: c.dir, version: 't' }),
      };
      for (const [format, out] of Object.entries(outputs)) {
        for (const s of [...c.expected.secrets, ...c.result.secretValues]) {
          assert.ok(!out.includes(s), `${c.name}: the ${format} output contains a secret`);
          assert.ok(
            !out.includes(JSON.stringify(s).slice(1, -1)),
            `${c.name}: the ${format} output contains a secret, JSON-escaped`,
          );
        }
      }
    }
  });
});
