/**
 * What a stdio server's command line launches: the package runner and the package specs it fetches (npx,
 * bunx, pnpm/yarn dlx, uvx, pipx run), or the container `docker|podman run` starts with its flags. A
 * Windows `cmd /c npx ...` wrapper is looked through.
 */
import type { ServerEntry } from './model.js';

export interface PackageSpec {
  ecosystem: 'npm' | 'pypi' | 'oci';
  spec: string;
  /** Index in the server's args. */
  argIndex: number;
}

export interface ContainerFlag {
  name: string;
  value: string | undefined;
  /** Index of the flag argument, and of its value (the same for --flag=value). */
  argIndex: number;
  valueIndex?: number;
}

export interface Launch {
  /** The command's base name, lower case, without .exe/.cmd: npx, uvx, docker, node, ... */
  runner: string;
  /** Args after the runner (and after `cmd /c`), with their indices in the server's args. */
  rest: Array<{ value: string; index: number }>;
  packages: PackageSpec[];
  container?: { image?: { value: string; index: number }; flags: ContainerFlag[] };
}

const base = (cmd: string): string =>
  cmd
    .split(/[\\/]/)
    .pop()!
    .toLowerCase()
    .replace(/\.(exe|cmd|bat)$/, '');

const NPX_VALUE_FLAGS = new Set([
  '-p',
  '--package',
  '-c',
  '--call',
  '--registry',
  '--cache',
  '--userconfig',
  '-w',
  '--workspace',
]);
const UVX_VALUE_FLAGS = new Set([
  '--from',
  '--with',
  '--with-editable',
  '--with-requirements',
  '-p',
  '--python',
  '--index-url',
  '--extra-index-url',
  '--index',
  '--default-index',
  '-i',
  '-c',
  '--constraint',
  '--directory',
  '--project',
  '--cache-dir',
  '--env-file',
]);
const DOCKER_VALUE_FLAGS = new Set([
  '-e',
  '--env',
  '--env-file',
  '-v',
  '--volume',
  '--mount',
  '-p',
  '--publish',
  '--name',
  '--network',
  '--net',
  '-w',
  '--workdir',
  '-u',
  '--user',
  '--entrypoint',
  '-l',
  '--label',
  '--cap-add',
  '--cap-drop',
  '--device',
  '--pid',
  '--ipc',
  '--uts',
  '--userns',
  '--security-opt',
  '-m',
  '--memory',
  '--cpus',
  '--platform',
  '--restart',
  '--add-host',
  '--dns',
  '-h',
  '--hostname',
  '--tmpfs',
  '--ulimit',
  '--log-driver',
  '--log-opt',
  '--pull',
  '--runtime',
  '--gpus',
  '--shm-size',
  '--group-add',
  '--cgroupns',
  '--volumes-from',
  '--link',
  '--expose',
  '--health-cmd',
  '--stop-signal',
]);

/** Flags and their values up to the first positional argument (the package or image), which it also returns. */
function splitOptions(
  rest: Launch['rest'],
  valueFlags: Set<string>,
): { flags: ContainerFlag[]; first?: { value: string; index: number }; after: Launch['rest'] } {
  const flags: ContainerFlag[] = [];
  for (let k = 0; k < rest.length; k++) {
    const a = rest[k]!;
    if (a.value === '--') return { flags, ...(rest[k + 1] ? { first: rest[k + 1]! } : {}), after: rest.slice(k + 2) };
    if (!a.value.startsWith('-') || a.value === '-') return { flags, first: a, after: rest.slice(k + 1) };
    const eq = a.value.indexOf('=');
    if (eq > 0)
      flags.push({ name: a.value.slice(0, eq), value: a.value.slice(eq + 1), argIndex: a.index, valueIndex: a.index });
    else if (valueFlags.has(a.value)) {
      const next = rest[k + 1];
      flags.push({ name: a.value, value: next?.value, argIndex: a.index, ...(next ? { valueIndex: next.index } : {}) });
      k++;
    } else flags.push({ name: a.value, value: undefined, argIndex: a.index });
  }
  return { flags, after: [] };
}

export function launchOf(server: ServerEntry): Launch | undefined {
  if (server.command === undefined) return undefined;
  let runner = base(server.command);
  let rest = server.args.map((value, index) => ({ value, index }));
  if (runner === 'cmd' && /^\/c$/i.test(rest[0]?.value ?? '') && rest[1]) {
    runner = base(rest[1].value);
    rest = rest.slice(2);
  }
  for (const [two, one] of [
    ['pnpm', 'dlx'],
    ['yarn', 'dlx'],
    ['npm', 'exec'],
    ['uv', 'tool'],
    ['pipx', 'run'],
  ] as const) {
    if (runner === two && rest[0]?.value === one) {
      runner = `${two} ${one}`;
      rest = rest.slice(two === 'uv' && rest[1]?.value === 'run' ? 2 : 1);
    }
  }
  const launch: Launch = { runner, rest, packages: [] };
  if (['npx', 'bunx', 'pnpm dlx', 'yarn dlx', 'npm exec'].includes(runner)) {
    const { flags, first } = splitOptions(rest, NPX_VALUE_FLAGS);
    const explicit = flags.filter((f) => (f.name === '-p' || f.name === '--package') && f.value !== undefined);
    for (const f of explicit) launch.packages.push({ ecosystem: 'npm', spec: f.value!, argIndex: f.valueIndex! });
    if (explicit.length === 0 && first)
      launch.packages.push({ ecosystem: 'npm', spec: first.value, argIndex: first.index });
  } else if (runner === 'uvx' || runner === 'uv tool' || runner === 'pipx run') {
    const { flags, first } = splitOptions(rest, new Set([...UVX_VALUE_FLAGS, '--spec']));
    const from = flags.find((f) => (f.name === '--from' || f.name === '--spec') && f.value !== undefined);
    if (from) launch.packages.push({ ecosystem: 'pypi', spec: from.value!, argIndex: from.valueIndex! });
    else if (first) launch.packages.push({ ecosystem: 'pypi', spec: first.value, argIndex: first.index });
  } else if (['docker', 'podman', 'nerdctl'].includes(runner) && ['run', 'create'].includes(rest[0]?.value ?? '')) {
    const { flags, first } = splitOptions(rest.slice(1), DOCKER_VALUE_FLAGS);
    launch.container = { flags, ...(first ? { image: first } : {}) };
    if (first) launch.packages.push({ ecosystem: 'oci', spec: first.value, argIndex: first.index });
  }
  return launch;
}

/** A local path, URL or VCS spec rather than a registry package: its version is not the registry's to change. */
const NOT_REGISTRY = /^(\.|\/|~|[A-Za-z]:[\\/]|file:|git\+|git:|github:|gitlab:|bitbucket:|https?:|\$)/;
const EXACT_SEMVER = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Why a package spec is not pinned to one exact version, or undefined when it is (or is not from a registry). */
export function unpinnedReason(p: PackageSpec): string | undefined {
  const spec = p.spec.trim();
  if (spec === '' || NOT_REGISTRY.test(spec)) return undefined;
  if (p.ecosystem === 'oci') {
    if (spec.includes('@sha256:')) return undefined;
    const tag = /:([^/:]+)$/.exec(spec)?.[1];
    if (tag === undefined) return 'an image without a tag (pulls :latest)';
    return tag === 'latest' ? 'the :latest tag' : undefined;
  }
  if (p.ecosystem === 'pypi') {
    const v = /(?:===?|@)\s*([^\s,;]+)$/.exec(spec)?.[1];
    if (v === undefined) return 'no version (the newest release is fetched at every start)';
    return EXACT_SEMVER.test(v) || /^\d+(\.\d+)*$/.test(v) ? undefined : `the version "${v}" is not exact`;
  }
  const m = /^(@[^/@\s]+\/[^@\s]+|[^@\s]+)(?:@(.*))?$/.exec(spec);
  if (!m) return undefined;
  const version = m[2];
  if (version === undefined || version === '') return 'no version (the newest release is fetched at every start)';
  if (version === 'latest' || version === 'next') return `the @${version} tag`;
  return EXACT_SEMVER.test(version) ? undefined : `the range "${version}"`;
}
