#!/usr/bin/env node
// The `prepare` script: in a checkout (a clone, or `npm install` from the git URL) it builds dist/ from
// src/. An installed package tarball carries dist/ and no src/, so there is nothing to build and the
// TypeScript compiler (a devDependency) need not be there.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

if (!existsSync(new URL('../src/cli/main.ts', import.meta.url))) process.exit(0);
const r = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
