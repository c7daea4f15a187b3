#!/usr/bin/env node
// Sums the checks.json files that `conformance server -o DIR` writes (one
// directory per scenario) and prints each scenario's failures to stderr and
// the totals to stdout as "PASSED FAILED". Like the suite's own summary, only
// SUCCESS and FAILURE checks count; INFO and WARNING checks are ignored.
//
//   node scripts/conformance-summary.mjs RESULTS_DIR
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: conformance-summary.mjs RESULTS_DIR');
  process.exit(2);
}

let passed = 0;
let failed = 0;
for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
  if (!entry.isDirectory()) continue;
  let checks;
  try {
    checks = JSON.parse(readFileSync(join(dir, entry.name, 'checks.json'), 'utf8'));
  } catch {
    continue; // no checks.json: the scenario crashed before writing one; the suite's exit code reports it
  }
  for (const check of checks) {
    if (check.status === 'SUCCESS') passed++;
    else if (check.status === 'FAILURE') {
      failed++;
      console.error(`FAILED ${entry.name.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT.*$/, '')}: ${check.id}: ${check.errorMessage ?? check.description}`);
    }
  }
}
console.log(`${passed} ${failed}`);
