#!/usr/bin/env node
// `npm run fuzz`: the property-based fuzz targets in test/fuzz/, each property run FUZZ_RUNS times
// (default 20,000; `npm test` runs them a few hundred times). FUZZ_SEED (and FUZZ_PATH) replay a failure.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const files = readdirSync('test/fuzz')
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join('test/fuzz', f))
  .sort();
const only = process.argv.slice(2);
const env = { ...process.env, FUZZ_RUNS: process.env.FUZZ_RUNS ?? '20000' };
const args = ['scripts/run-tests.mjs', ...(only.length > 0 ? only : files)];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env });
process.exit(r.status ?? 1);
