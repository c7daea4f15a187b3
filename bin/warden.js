#!/usr/bin/env node
// The published entry point: runs the compiled CLI (built by `npm install` through the prepare script).
// Exit codes: 0 done, 1 failed, 2 bad usage or configuration.
import { run } from '../dist/cli/main.js';

run(process.argv).catch((err) => {
  process.stderr.write(`warden: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
