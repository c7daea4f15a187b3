#!/usr/bin/env node
// Compares two result folders of `conformance server -o DIR` (one directory per scenario): the same suite
// run directly against an MCP server and through the gateway in front of it. Prints one line per scenario
// (passed/failed checks each way) and exits 1 if a scenario that passes directly (no failed check) has a
// failed check through the gateway, or is missing there. Only SUCCESS and FAILURE checks count.
//
//   node scripts/conformance-parity.mjs DIRECT_RESULTS GATEWAY_RESULTS [LABEL]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [direct, gateway, label = ''] = process.argv.slice(2);
if (!direct || !gateway) {
  console.error('usage: conformance-parity.mjs DIRECT_RESULTS GATEWAY_RESULTS [LABEL]');
  process.exit(2);
}

/** scenario name (the folder name without its timestamp) -> { passed, failed: [check ids] } */
function load(dir) {
  const out = new Map();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    let checks;
    try {
      checks = JSON.parse(readFileSync(join(dir, entry.name, 'checks.json'), 'utf8'));
    } catch {
      continue;
    }
    const name = entry.name.replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    out.set(name, {
      passed: checks.filter((c) => c.status === 'SUCCESS').length,
      failed: checks.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}: ${String(c.errorMessage ?? '').slice(0, 200)}`),
    });
  }
  return out;
}

const d = load(direct);
const g = load(gateway);
let regressions = 0;
let totals = { dp: 0, df: 0, gp: 0, gf: 0 };
for (const name of [...d.keys()].sort()) {
  const a = d.get(name);
  const b = g.get(name) ?? { passed: 0, failed: ['(scenario missing through the gateway)'] };
  totals = { dp: totals.dp + a.passed, df: totals.df + a.failed.length, gp: totals.gp + b.passed, gf: totals.gf + b.failed.length };
  const regressed = a.failed.length === 0 && b.failed.length > 0;
  if (regressed) regressions++;
  // Fewer checks run through the gateway (none failed): not a failure, but shown (a check it skips is a gap).
  const fewer = !regressed && a.failed.length === 0 && b.passed < a.passed;
  console.log(`${regressed ? 'REGRESSED' : fewer ? 'FEWER    ' : 'ok       '} ${name}: direct ${a.passed}/${a.failed.length}, gateway ${b.passed}/${b.failed.length}`);
  if (regressed) for (const f of b.failed) console.log(`            ${f}`);
}
console.log(`conformance parity ${label}: direct ${totals.dp} passed ${totals.df} failed; gateway ${totals.gp} passed ${totals.gf} failed; ${regressions} scenario(s) pass directly but fail through the gateway`);
process.exit(regressions === 0 && d.size > 0 ? 0 : 1);
