/**
 * The poisoning checks against a corpus of real-world-shaped definitions (test/fixtures/integrity-corpus.ts):
 * precision and recall over (definition, finding) pairs, and per definition (flagged at medium or above
 * versus expected malicious), printed; every expectation is also checked one by one so a regression names
 * the definition it broke.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { otherToolIndex, scanDefinition, severityRank, INTEGRITY_RULES, type OtherTool } from '../../src/integrity/index.js';
import { CORPUS, type CorpusEntry } from '../fixtures/integrity-corpus.js';

const allowedHosts = ['docs.example.com', 'github.com', 'docs.github.com'];
const tools: OtherTool[] = CORPUS.filter((e) => e.kind === 'tool').map((e) => ({ upstream: e.upstream, name: String(e.item.name), exposed: `${e.upstream}__${String(e.item.name)}` }));
const servers = [...new Set(CORPUS.map((e) => e.upstream))];

function scan(e: CorpusEntry) {
  return scanDefinition(e.kind, e.item, {
    upstream: e.upstream,
    others: otherToolIndex(tools.filter((t) => t.upstream !== e.upstream)),
    otherServers: servers.filter((s) => s !== e.upstream),
    maxDescriptionChars: 4000,
    allowedHosts,
  });
}

describe('integrity corpus', () => {
  test('at least 30 definitions, benign and malicious, every expected id is a rule', () => {
    assert.ok(CORPUS.length >= 30, `${CORPUS.length} definitions`);
    assert.ok(CORPUS.filter((e) => e.expected.length === 0).length >= 12);
    assert.ok(CORPUS.filter((e) => e.expected.some((id) => severityRank(INTEGRITY_RULES[id]!.severity) >= 2)).length >= 15);
    for (const e of CORPUS) for (const id of e.expected) assert.ok(INTEGRITY_RULES[id], `${e.id}: unknown rule ${id}`);
  });

  test('precision and recall', () => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    const misses: string[] = [];
    let defTp = 0;
    let defFp = 0;
    let defFn = 0;
    for (const e of CORPUS) {
      const got = new Set(scan(e).findings.map((f) => f.id));
      const want = new Set(e.expected);
      for (const id of got) {
        if (want.has(id)) tp++;
        else {
          fp++;
          misses.push(`${e.id}: unexpected ${id}`);
        }
      }
      for (const id of want) {
        if (got.has(id)) continue;
        fn++;
        misses.push(`${e.id}: missed ${id}`);
      }
      const bad = (ids: Iterable<string>) => [...ids].some((id) => severityRank(INTEGRITY_RULES[id]!.severity) >= 2);
      const flagged = bad(got);
      const malicious = bad(want);
      if (flagged && malicious) defTp++;
      else if (flagged) defFp++;
      else if (malicious) defFn++;
    }
    const p = tp / (tp + fp);
    const r = tp / (tp + fn);
    const dp = defTp / (defTp + defFp);
    const dr = defTp / (defTp + defFn);
    console.log(`integrity corpus: ${CORPUS.length} definitions; findings precision ${p.toFixed(3)} recall ${r.toFixed(3)} (tp ${tp}, fp ${fp}, fn ${fn}); definitions flagged at medium+: precision ${dp.toFixed(3)} recall ${dr.toFixed(3)}`);
    if (misses.length > 0) console.log(`  differences: ${misses.join('; ')}`);
    assert.ok(p >= 0.9 && r >= 0.9, `findings precision ${p.toFixed(3)} recall ${r.toFixed(3)}: ${misses.join('; ')}`);
    assert.ok(dp >= 0.95 && dr >= 0.95, `definitions precision ${dp.toFixed(3)} recall ${dr.toFixed(3)}`);
  });
});
