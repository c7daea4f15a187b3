/**
 * The README and docs/ against the code: every `warden ...` command line they show names a command that
 * exists, with options it takes; every link stays inside the repository and points at a file (and a
 * heading) that exists; no desktop-app config runs `npx warden` (outside an install, npx would fetch an
 * unrelated registry package of that name).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';
import type { Command } from 'commander';
import { init } from '../src/cli/init.js';
import { buildProgram } from '../src/cli/main.js';
import { ROOT } from './helpers/servers.js';

const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
const anchors = (page: string) => new Set([...read(page).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

/** Command lines shown: lines of code blocks and inline code spans that run warden. */
function commandLines(page: string): string[] {
  const text = read(page);
  const out: string[] = [];
  for (const block of text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    // `warden doctor: FILE` is what a command prints (its heading), not a command line.
    for (const line of block[1]!.split('\n')) if (/^(\$ )?(npx |node bin\/)?warden(\.js)? (?![a-z-]+: )/.test(line.trim())) out.push(line.trim());
  }
  for (const span of text.replace(/```[\s\S]*?```/g, '').matchAll(/`((?:npx |node bin\/)?warden(?:\.js)? [^`]+)`/g)) out.push(span[1]!);
  return out;
}

/** The words of a command line up to the first shell operator or comment, quotes removed. */
function words(line: string): string[] {
  const cut = line.replace(/^\$ /, '').split(/\s(?:#|\||>|<|&&|;|\\$)/)[0]!;
  const tokens = [...cut.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  while (tokens.length > 0 && !/^(warden|bin\/warden\.js)$/.test(tokens[0]!)) tokens.shift();
  return tokens.slice(1);
}

/** Checks one command line against the program: the command path exists and every option is known. */
function check(line: string): string | undefined {
  let cmd: Command = buildProgram();
  const argv = words(line);
  let i = 0;
  while (i < argv.length && cmd.commands.length > 0) {
    const next = cmd.commands.find((c) => c.name() === argv[i]);
    if (next === undefined) break;
    cmd = next;
    i++;
  }
  const rest = argv.slice(i);
  if (cmd.commands.length > 0 && rest.length > 0 && !rest[0]!.startsWith('-') && !/^[A-Z.]+$/.test(rest[0]!)) return `no command "${rest[0]}" under "${cmd.name()}"`;
  const options = [...cmd.options, ...buildProgram().options];
  for (const w of rest) {
    if (!w.startsWith('-') || w === '-' || /^-\d/.test(w)) continue;
    const flag = w.split('=')[0]!;
    if (!options.some((o) => o.long === flag || o.short === flag)) return `"${cmd.name()}" has no option ${flag}`;
  }
  return undefined;
}

describe('README and docs against the code', () => {
  test('every warden command line names a command that exists, with options it takes', () => {
    const problems: string[] = [];
    let seen = 0;
    for (const page of PAGES) {
      for (const line of commandLines(page)) {
        seen++;
        const why = check(line);
        if (why) problems.push(`${page}: \`${line}\`: ${why}`);
      }
    }
    assert.ok(seen > 30, `only ${seen} command lines found: the extraction is broken`);
    assert.deepEqual(problems, []);
  });

  test('the checker itself refuses a made-up command and a made-up option', () => {
    assert.match(check('warden audit tial') ?? '', /no command "tial"/);
    assert.match(check('warden task end ID --because x') ?? '', /no option --because/);
    assert.equal(check('warden task end ID --reason "done" --json'), undefined);
  });

  test('every link stays in the repository and points at a file and heading that exist', () => {
    const problems: string[] = [];
    for (const page of PAGES) {
      for (const m of read(page).replace(/```[\s\S]*?```/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target)) {
          problems.push(`${page}: a link outside the repository: ${target}`);
          continue;
        }
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const file = path === '' ? page : relative(ROOT, join(ROOT, dirname(page), path));
        if (!existsSync(join(ROOT, file))) problems.push(`${page}: ${target}: no such file`);
        else if (anchor !== undefined && file.endsWith('.md') && !anchors(file).has(anchor)) problems.push(`${page}: ${target}: no such heading in ${file}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every repository path they name exists (in the repository, or among the files `warden init` writes)', () => {
    const written = mkdtempSync(join(tmpdir(), 'warden-docs-init-'));
    try {
      assert.equal(init({ dir: written }, { stdout: new PassThrough(), stderr: new PassThrough() }), 0);
      const problems: string[] = [];
      let seen = 0;
      for (const page of PAGES) {
        const text = read(page);
        const named = [
          ...[...text.matchAll(/`((?:src|test|policies|deploy|bench|scripts|bin|docs|\.ci)\/[^`\s]*|Dockerfile|compose\.yaml|LICENSE|package\.json)`/g)].map((m) => m[1]!),
          ...[...text.matchAll(/\b(test\/[\w/.-]+\.test\.ts)\b/g)].map((m) => m[1]!),
        ];
        for (const path of new Set(named)) {
          seen++;
          if (!existsSync(join(ROOT, path)) && !existsSync(join(written, path)) && !path.startsWith('deploy/docker/secrets')) problems.push(`${page}: ${path}`);
        }
      }
      assert.ok(seen > 10, `only ${seen} paths found`);
      assert.deepEqual(problems, []);
    } finally {
      rmSync(written, { recursive: true, force: true });
    }
  });

  test('no client config in the docs runs `npx warden`', () => {
    for (const page of PAGES) {
      for (const block of read(page).matchAll(/```json\n([\s\S]*?)```/g)) {
        assert.doesNotMatch(block[1]!, /"command":\s*"npx"[\s\S]*?"warden"/, `${page} tells a desktop app to run npx warden`);
      }
    }
  });
});
