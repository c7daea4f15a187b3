/**
 * `warden policy validate|test|explain|schema`: policy authoring from the command line. Every command reads
 * policies the way the gateway does (the config's `policy` block, files relative to the config) and decides
 * through the gateway's own path, so what passes here is what the gateway enforces. The config is `-c FILE`,
 * else `warden.yaml` in the current directory when there is one.
 * Exit codes: 0 valid / passed, 1 invalid policy, failing case or bad case file, 2 bad usage or config.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/index.js';
import {
  CaseFileError,
  caseFilePolicy,
  evaluate,
  loadCaseFile,
  parseRequest,
  runCases,
  type CaseResult,
  formatProblem,
  gatewaySchemaText,
  loadGatewayPolicy,
  PolicyLoadError,
  readPolicySources,
  schemaTextToJson,
  type GatewayPolicy,
  type PolicyInfo,
  type PolicySource,
} from '../policy/index.js';
import { inGrant } from '../tasks/index.js';
import { UsageError } from './exit.js';

export interface PolicyIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface PolicyOptions {
  config?: string;
  json?: boolean;
}

export interface ExplainOptions extends PolicyOptions {
  request?: string;
}

const DEFAULT_CONFIG = 'warden.yaml';
const processIo = (): PolicyIo => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });


/** Runs one subcommand and maps its error to an exit code; errors name files and policies, never values. */
async function run(what: string, io: PolicyIo, body: () => number | Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    const prefix = `warden policy ${what}`;
    if (err instanceof PolicyLoadError) {
      io.stderr.write(`${prefix}: the policy set does not load (${err.code}):\n${err.problems.map((p) => `${formatProblem(p)}\n`).join('')}`);
      return 1;
    }
    if (err instanceof CaseFileError) {
      io.stderr.write(`${prefix}: invalid input:\n${err.problems.map((p) => `${p}\n`).join('')}`);
      return 1;
    }
    io.stderr.write(`${prefix}: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
  }
}

/** `-c FILE`, else ./warden.yaml if it exists, else none. */
function findConfig(opts: PolicyOptions): LoadedConfig | undefined {
  if (opts.config !== undefined) return loadConfig(opts.config);
  return existsSync(DEFAULT_CONFIG) ? loadConfig(DEFAULT_CONFIG) : undefined;
}

const needConfig = (opts: PolicyOptions, why: string): LoadedConfig => {
  const loaded = findConfig(opts);
  if (loaded === undefined) throw new UsageError(`${why}: give the config with -c FILE (no ${DEFAULT_CONFIG} here)`);
  return loaded;
};

interface Loaded {
  policy: GatewayPolicy;
  sources: PolicySource[];
}

/** The policy set of `files` (relative to `baseDir`), or of the config's `policy` block when `files` is undefined. */
function loadPolicy(loaded: LoadedConfig | undefined, files: readonly string[] | undefined, io: PolicyIo): Loaded {
  const cfg = loaded?.config.policy;
  const list = files ?? cfg?.files ?? [];
  if (list.length === 0) io.stderr.write('note: no policy files are configured (policy.files): every request is denied\n');
  const sources = readPolicySources(list, files !== undefined ? process.cwd() : (loaded?.baseDir ?? process.cwd()));
  return { policy: loadGatewayPolicy({ sources, arguments: cfg?.arguments, pathArguments: cfg?.pathArguments }), sources };
}

const pad = (rows: string[][]): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n').join('');
};

const effectOf = (p: PolicyInfo): string => `${p.effect}${'approval' in p.annotations ? ' @approval' : ''}`;

/** Source order: by file as configured, then line and column (`file:line:col`). */
function inSourceOrder(policies: readonly PolicyInfo[], sources: readonly PolicySource[]): PolicyInfo[] {
  const key = (p: PolicyInfo): number[] => {
    const m = /^(.*):(\d+):(\d+)$/.exec(p.location);
    return m === null ? [Infinity, 0, 0] : [sources.findIndex((s) => s.name === m[1]), Number(m[2]), Number(m[3])];
  };
  return [...policies].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
}

/** `warden policy validate [files...]`: strict validation against the gateway schema, and what each policy is. */
export function policyValidate(files: string[], opts: PolicyOptions, io = processIo()): Promise<number> {
  return run('validate', io, () => {
    const loaded = files.length > 0 ? findConfig(opts) : needConfig(opts, 'no policy files given');
    let result: Loaded;
    try {
      result = loadPolicy(loaded, files.length > 0 ? files : undefined, io);
    } catch (err) {
      if (!(err instanceof PolicyLoadError)) throw err;
      if (opts.json) {
        io.stdout.write(JSON.stringify({ valid: false, code: err.code, problems: err.problems }) + '\n');
        return 1;
      }
      io.stdout.write(err.problems.map((p) => `${formatProblem(p)}\n`).join(''));
      io.stdout.write(`invalid: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} (${err.code})\n`);
      return 1;
    }
    const { policy, sources } = result;
    const list = inSourceOrder(policy.policies, sources);
    const engine = (p: PolicyInfo) => (p.fallback === undefined ? 'compiled' : `cedar-wasm (${p.fallback})`);
    if (opts.json) {
      const policies = list.map((p) => ({ id: p.id, effect: p.effect, approval: 'approval' in p.annotations, location: p.location, engine: engine(p) }));
      io.stdout.write(JSON.stringify({ valid: true, files: sources.map((x) => x.name), policies, warnings: policy.warnings, version: policy.version }) + '\n');
      return 0;
    }
    if (list.length > 0) {
      io.stdout.write(pad([['ID', 'EFFECT', 'LOCATION', 'ENGINE'], ...list.map((p) => [p.id, effectOf(p), p.location, engine(p)])]));
    }
    for (const w of policy.warnings) io.stdout.write(`warning: ${formatProblem(w)}\n`);
    const approvals = list.filter((p) => 'approval' in p.annotations).length;
    const s = (n: number) => (n === 1 ? '' : 's');
    io.stdout.write(
      `valid: ${list.length} polic${list.length === 1 ? 'y' : 'ies'} in ${sources.length} file${s(sources.length)} (${approvals} need${approvals === 1 ? 's' : ''} approval), ` +
        `${policy.warnings.length} warning${s(policy.warnings.length)}, version ${policy.version}\n`,
    );
    return 0;
  });
}

function caseLine(r: CaseResult): string {
  const ids = r.policyIds.length > 0 ? r.policyIds.join(', ') : 'none';
  const extra = r.pass || r.expected !== r.got ? '' : ` - ${r.failure ?? ''}`;
  return `${r.pass ? 'PASS' : 'FAIL'} ${r.name}: expected ${r.expected}, got ${r.got} (policies ${ids}; reason ${r.reason})${extra}\n`;
}

/** `warden policy test FILE...`: runs case files; a file without `policies:` is run against the config's policy. */
export function policyTest(files: string[], opts: PolicyOptions, io = processIo()): Promise<number> {
  return run('test', io, () => {
    if (files.length === 0) throw new UsageError('name at least one case file');
    let configured: GatewayPolicy | undefined;
    let [passed, failed, broken] = [0, 0, 0];
    for (const file of files) {
      try {
        const cases = loadCaseFile(file);
        let policy = caseFilePolicy(cases);
        if (policy === undefined) policy = configured ??= loadPolicy(needConfig(opts, `${file} names no policies`), undefined, io).policy;
        if (!opts.json) io.stdout.write(`${file}\n`);
        for (const r of runCases(policy, cases.cases, { inGrant })) {
          io.stdout.write(opts.json ? JSON.stringify({ file, ...r }) + '\n' : caseLine(r));
          if (r.pass) passed++;
          else failed++;
        }
      } catch (err) {
        if (!(err instanceof PolicyLoadError || err instanceof CaseFileError)) throw err;
        broken++;
        const problems = err instanceof PolicyLoadError ? err.problems.map(formatProblem) : err.problems;
        if (opts.json) {
          io.stdout.write(JSON.stringify({ file, error: err instanceof PolicyLoadError ? err.code : 'invalid_case_file', problems }) + '\n');
          continue;
        }
        io.stdout.write(`${file}\nERROR ${err instanceof PolicyLoadError ? `the policy set does not load (${err.code})` : 'invalid case file'}:\n`);
        io.stdout.write(problems.map((p) => `${p}\n`).join(''));
      }
    }
    if (opts.json) io.stdout.write(JSON.stringify({ summary: { passed, failed, notRun: broken } }) + '\n');
    else io.stdout.write(`${passed} passed, ${failed} failed${broken > 0 ? `, ${broken} file${broken === 1 ? '' : 's'} not run` : ''}\n`);
    return failed > 0 || broken > 0 ? 1 : 0;
  });
}

async function readAll(stream: PolicyIo['stdin']): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** `warden policy explain`: one request's decision, the policies that determined it and why. */
export function policyExplain(opts: ExplainOptions, io = processIo()): Promise<number> {
  return run('explain', io, async () => {
    const source = opts.request ?? '-';
    if (source === '-' && io.stdin.isTTY) throw new UsageError('the request is read from standard input, which is a terminal: pipe it in or give --request FILE');
    let text: string;
    try {
      text = source === '-' ? await readAll(io.stdin) : readFileSync(source, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${source} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const request = parseRequest(text, source === '-' ? '<stdin>' : source);
    const { policy } = loadPolicy(needConfig(opts, 'explain decides with the config\'s policy'), undefined, io);
    const { decision: d, request: cedar, visible } = evaluate(policy, request, { inGrant });
    const policies = d.policyIds.map((id) => policy.policies.find((p) => p.id === id)).filter((p): p is PolicyInfo => p !== undefined);
    const described = policies.map((p) => ({ id: p.id, effect: p.effect, approval: 'approval' in p.annotations, location: p.location, reason: p.annotations.reason ?? null }));
    if (opts.json) {
      io.stdout.write(JSON.stringify({ ...d, policies: described, ...(visible === undefined ? {} : { visible }), request: cedar ?? null }, null, 2) + '\n');
      return 0;
    }
    io.stdout.write(`decision: ${d.effect}${visible === undefined ? '' : ` (${visible ? 'shown in' : 'hidden from'} lists)`}\n`);
    io.stdout.write(described.length === 0 ? 'determining policies: none\n' : 'determining policies:\n');
    for (const p of described) io.stdout.write(`  ${p.id} (${effectOf(policies.find((x) => x.id === p.id)!)}) at ${p.location}${p.reason === null ? '' : `: ${p.reason}`}\n`);
    for (const e of d.errors) io.stdout.write(`  skipped ${e.policyId}: evaluation error: ${e.message}\n`);
    io.stdout.write(`reason: ${d.reason}\npolicy version: ${d.version}\n`);
    return 0;
  });
}

/** `warden policy schema`: the Cedar schema policies are validated against, with the config's arguments. */
export function policySchema(opts: PolicyOptions, io = processIo()): Promise<number> {
  return run('schema', io, () => {
    const args = findConfig(opts)?.config.policy?.arguments;
    const text = args === undefined ? gatewaySchemaText() : gatewaySchemaText(args);
    io.stdout.write(opts.json ? JSON.stringify(schemaTextToJson(text), null, 2) + '\n' : text);
    return 0;
  });
}
