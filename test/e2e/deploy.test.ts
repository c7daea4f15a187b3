/**
 * The deployment files, tested as far as this machine allows (no container engine here): the image's
 * entry point runs under bash (argument handling, secrets from files, exec so warden gets the signals,
 * with the real binary serving); the Dockerfile's sources exist and are not excluded from the build
 * context; compose.yaml parses with the gateway and PostgreSQL wired to each other; the container's config
 * is a valid config that start accepts; the systemd unit passes `systemd-analyze verify`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { checkAuthMode } from '../../src/cli/start-gateway.js';
import { buildProgram } from '../../src/cli/main.js';
import { validateConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/telemetry/log.js';
import { assertBuilt, devConfig, run, stopChild, tempDir, waitFor, WARDEN_BIN, writeConfig } from '../helpers/e2e.js';
import { ROOT } from '../helpers/servers.js';

const ENTRYPOINT = join(ROOT, 'deploy', 'docker', 'entrypoint.sh');

/** True when the command line parses: the command exists and takes every option given. */
function accepted(argv: string[]): boolean {
  const cmd = buildProgram().commands.find((c) => c.name() === argv[0]);
  return cmd !== undefined && cmd.parseOptions(argv.slice(1)).unknown.length === 0;
}
const text = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('the image entry point, under bash', () => {
  const tmp = tempDir('warden-entrypoint-');
  const fakeBin = join(tmp.dir, 'fake');
  const realBin = join(tmp.dir, 'real');
  before(() => {
    assertBuilt();
    // A `warden` that reports what it was given: its argv, its pid, and the variables the entry point sets.
    mkdirSync(fakeBin);
    writeFileSync(
      join(fakeBin, 'warden'),
      '#!/usr/bin/env bash\nprintf "%s\\n" "pid=$$" "args=$*" "PGPASSWORD=${PGPASSWORD-unset}" "WARDEN_MASTER_KEY=${WARDEN_MASTER_KEY-unset}" "PGPASSWORD_FILE=${PGPASSWORD_FILE-unset}" "OTHER_FILE=${OTHER_FILE-unset}"\n',
    );
    chmodSync(join(fakeBin, 'warden'), 0o755);
    mkdirSync(realBin);
    symlinkSync(WARDEN_BIN, join(realBin, 'warden'));
  });
  after(() => tmp.remove());

  const entry = (args: string[], env: Record<string, string> = {}, bin = fakeBin) =>
    run('bash', [ENTRYPOINT, ...args], { cwd: tmp.dir, env: { PATH: `${bin}:${process.env.PATH}`, ...env } });
  const field = (out: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1];

  test('no arguments or options only: serve the mounted config; a command or --help/--version: passed on as is', async () => {
    assert.equal(field((await entry([])).stdout, 'args'), 'serve --config /etc/warden/warden.yaml');
    assert.equal(field((await entry([], { WARDEN_CONFIG: '/cfg/w.yaml' })).stdout, 'args'), 'serve --config /cfg/w.yaml');
    assert.equal(field((await entry(['-c', '/other.yaml'])).stdout, 'args'), 'serve --config /etc/warden/warden.yaml -c /other.yaml');
    assert.equal(field((await entry(['audit', 'tail', '-n', '5'])).stdout, 'args'), 'audit tail -n 5');
    assert.equal(field((await entry(['--version'])).stdout, 'args'), '--version');
    assert.equal(field((await entry(['serve', '-c', '/x.yaml'])).stdout, 'args'), 'serve -c /x.yaml');
  });

  test('secrets from files: WARDEN_*_FILE and PGPASSWORD_FILE set the variable and are unset; others are left alone', async () => {
    const pw = join(tmp.dir, 'pg_password');
    const key = join(tmp.dir, 'master_key');
    writeFileSync(pw, 's3cret pass\n');
    writeFileSync(key, 'a'.repeat(43) + '=\n');
    const r = await entry([], { PGPASSWORD_FILE: pw, WARDEN_MASTER_KEY_FILE: key, OTHER_FILE: '/nope' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(field(r.stdout, 'PGPASSWORD'), 's3cret pass', 'the trailing newline is dropped');
    assert.equal(field(r.stdout, 'WARDEN_MASTER_KEY'), 'a'.repeat(43) + '=');
    assert.equal(field(r.stdout, 'PGPASSWORD_FILE'), 'unset');
    assert.equal(field(r.stdout, 'OTHER_FILE'), '/nope');
    assert.ok(!r.stderr.includes('s3cret'), 'the value is never printed');
  });

  test('a missing, empty or doubly given secret stops it with exit 2, naming the variable and never the value', async () => {
    const empty = join(tmp.dir, 'empty');
    writeFileSync(empty, '');
    const pw = join(tmp.dir, 'pw2');
    writeFileSync(pw, 'hunter2-value');
    for (const [env, why] of [
      [{ PGPASSWORD_FILE: join(tmp.dir, 'missing') }, /PGPASSWORD_FILE: cannot read/],
      [{ WARDEN_MASTER_KEY_FILE: empty }, /WARDEN_MASTER_KEY_FILE: .* is empty/],
      [{ PGPASSWORD_FILE: pw, PGPASSWORD: 'x' }, /both PGPASSWORD and PGPASSWORD_FILE are set/],
    ] as const) {
      const r = await entry([], env);
      assert.equal(r.code, 2, JSON.stringify(env));
      assert.match(r.stderr, why);
      assert.equal(r.stdout, '', 'warden was not started');
      assert.ok(!r.stderr.includes('hunter2'));
    }
  });

  test('warden is exec-ed: the same process, so it receives SIGTERM and SIGHUP itself; the real binary serves and stops cleanly', async () => {
    const child = spawn('bash', [ENTRYPOINT], { cwd: tmp.dir, env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    await new Promise((r) => child.once('close', r));
    assert.equal(field(out, 'pid'), String(child.pid), 'the entry point replaced itself with warden');

    const config = writeConfig(tmp.dir, devConfig({}, { log: { level: 'info' } }));
    const real = spawn('bash', [ENTRYPOINT], { cwd: tmp.dir, env: { ...process.env, PATH: `${realBin}:${process.env.PATH}`, WARDEN_CONFIG: config }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    real.stdout.on('data', (d) => (stdout += String(d)));
    real.stderr.on('data', (d) => (stderr += String(d)));
    try {
      assert.ok(await waitFor(() => /listening on (http:\S+)/.test(stdout), 20_000), stderr);
      const url = /listening on (http:\/\/[^/]+)/.exec(stdout)![1]!;
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200, 'the HEALTHCHECK path answers');
      real.kill('SIGHUP');
      assert.ok(await waitFor(() => stderr.includes('config reloaded'), 10_000), `SIGHUP reached warden:\n${stderr}`);
    } finally {
      const exit = await stopChild(real, 'SIGTERM', 10_000);
      assert.deepEqual([exit.code, exit.killed], [0, false], `SIGTERM reached warden, which exited cleanly:\n${stderr}`);
    }
  });
});

describe('Dockerfile and compose.yaml', () => {
  test('the Dockerfile: every COPY source exists and is not in .dockerignore; it runs the entry point as a non-root user', () => {
    const dockerfile = text('Dockerfile');
    const ignored = text('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    assert.ok(sources.length >= 5);
    for (const src of sources) {
      assert.ok(existsSync(join(ROOT, src)), `COPY ${src}: no such file`);
      assert.ok(!ignored.some((pattern) => src === pattern || src.startsWith(`${pattern}/`)), `COPY ${src} is excluded by .dockerignore`);
    }
    const engines = (JSON.parse(text('package.json')) as { engines: { node: string } }).engines.node;
    for (const m of dockerfile.matchAll(/^FROM node:(\d+)/gm)) assert.ok(Number(m[1]) >= Number(/\d+/.exec(engines)![0]), `node ${m[1]} satisfies ${engines}`);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["warden-entrypoint"\]$/m);
    assert.match(dockerfile, /^COPY deploy\/docker\/entrypoint\.sh \/usr\/local\/bin\/warden-entrypoint$/m);
    assert.match(dockerfile, /--allow-scripts|"allowScripts": \{ "better-sqlite3": true \}/);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    assert.deepEqual(cmd, ['serve', '--config', '/etc/warden/warden.yaml']);
    assert.ok(accepted(cmd) && !accepted(['serve', '--confg', 'x']));
    assert.match(dockerfile, /^EXPOSE 7400$/m);
  });

  test('compose.yaml: the gateway and PostgreSQL, wired by service name, user, database and secret; the config it mounts is valid', () => {
    const compose = parse(text('compose.yaml')) as {
      services: Record<string, { image?: string; build?: string; environment?: Record<string, string>; secrets?: string[]; volumes?: string[]; depends_on?: Record<string, { condition: string }>; ports?: string[]; healthcheck?: unknown }>;
      secrets: Record<string, { file: string }>;
    };
    assert.deepEqual(Object.keys(compose.services).sort(), ['postgres', 'warden']);
    const { postgres: pg, warden } = compose.services as Required<typeof compose.services>;
    assert.match(pg!.image!, /^postgres:\d+/);
    assert.ok(pg!.healthcheck, 'PostgreSQL has a health check the gateway waits for');
    assert.equal(warden!.build, '.');
    assert.deepEqual(warden!.depends_on, { postgres: { condition: 'service_healthy' } });
    assert.equal(pg!.environment!.POSTGRES_PASSWORD_FILE, '/run/secrets/pg_password');
    assert.equal(warden!.environment!.PGPASSWORD_FILE, '/run/secrets/pg_password');
    for (const s of ['pg_password', 'master_key']) assert.ok(warden!.secrets!.includes(s) && compose.secrets[s], s);
    assert.ok(pg!.secrets!.includes('pg_password'));
    for (const p of warden!.ports!) assert.match(p, /^127\.0\.0\.1:/, 'published on the host loopback only');
    const mounts = Object.fromEntries(warden!.volumes!.map((v) => v.split(':')).map(([from, to]) => [to!, from!]));
    const configFile = mounts['/etc/warden/warden.yaml']!;
    assert.ok(existsSync(join(ROOT, configFile)), configFile);

    // The container's config: valid, accepted at start (listening beyond loopback), wired to compose's PostgreSQL.
    const raw = parse(readFileSync(join(ROOT, configFile), 'utf8')) as Record<string, unknown>;
    const config = validateConfig(raw, configFile);
    checkAuthMode(config, silentLogger(), configFile);
    const store = new URL(config.store);
    assert.deepEqual([store.protocol, store.hostname, store.username, store.pathname, store.password], ['postgres:', 'postgres', pg!.environment!.POSTGRES_USER, `/${pg!.environment!.POSTGRES_DB}`, ''], 'no password in the URL');
    assert.equal(config.vault.masterKeyFile, '/run/secrets/master_key');
    assert.equal(config.listen, '0.0.0.0:7400');
    // The policy files resolve inside the mounted folder.
    for (const f of config.policy!.files) {
      const inContainer = join('/etc/warden', f);
      const mount = Object.entries(mounts).find(([to]) => inContainer.startsWith(`${to}/`));
      assert.ok(mount, `${inContainer} is mounted`);
      assert.ok(existsSync(join(ROOT, mount[1], inContainer.slice(mount[0].length))), `${inContainer} exists in ${mount[1]}`);
    }
    // The reference server it runs is where the Dockerfile installs the package's dependencies.
    for (const s of Object.values(config.mcpServers)) {
      const script = 'args' in s ? s.args.find((a) => a.startsWith('/opt/warden/')) : undefined;
      if (script) assert.match(text('Dockerfile'), /WORKDIR \/opt\/warden[\s\S]*npm install --omit=dev/);
    }
    assert.match(text('.gitignore'), /^deploy\/docker\/secrets\/$/m, 'the secret files are never committed');
  });
});

describe('the systemd unit', () => {
  const tmp = tempDir('warden-systemd-');
  after(() => tmp.remove());

  test('systemd-analyze verify passes with no warning (the command resolved to this build)', async (t) => {
    const which = await run('bash', ['-c', 'command -v systemd-analyze || true']);
    if (which.stdout.trim() === '') return t.skip('systemd-analyze is not installed');
    const unit = text('deploy/systemd/mcp-warden.service');
    const exec = /^ExecStart=warden (.*)$/m.exec(unit);
    assert.ok(exec, 'ExecStart runs warden by name (found where npm install -g put it)');
    const copy = join(tmp.dir, 'mcp-warden.service');
    writeFileSync(copy, unit.replace(/^ExecStart=warden /m, `ExecStart=${WARDEN_BIN} `));
    const r = await run('systemd-analyze', ['verify', copy], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning');
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(unit, /^RestartPreventExitStatus=2$/m, 'a config error (exit 2) is not restarted in a loop');
    assert.match(unit, /^LoadCredential=master_key:/m);
    assert.ok(accepted(exec[1]!.split(' ')), exec[1]);
  });
});

describe('the Kubernetes sketch', () => {
  test('a Deployment with probes on paths the gateway serves, a Service without affinity, a PodDisruptionBudget, and a valid config', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are read field by field below
    type Manifest = Record<string, any>;
    const docs = parseAllDocuments(text('deploy/kubernetes/mcp-warden.yaml')).map((d) => d.toJS() as Manifest);
    const kinds = docs.map((d) => d.kind);
    assert.deepEqual(kinds, ['ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget']);
    const [configMap, deployment, service, pdb] = docs as [Manifest, Manifest, Manifest, Manifest];
    const config = validateConfig(parse(configMap.data['warden.yaml']) as Record<string, unknown>, 'deploy/kubernetes/mcp-warden.yaml');
    checkAuthMode(config, silentLogger(), 'deploy/kubernetes/mcp-warden.yaml');
    assert.match(config.store, /^postgres:\/\/[^:@]+@/, 'PostgreSQL, with no password in the URL');
    const container = deployment.spec.template.spec.containers[0];
    assert.ok(accepted(container.args), `the container's command line: ${container.args.join(' ')}`);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.ok(['/healthz', '/readyz'].includes(container.readinessProbe.httpGet.path));
    assert.ok(deployment.spec.replicas >= 2);
    assert.equal(service.spec.sessionAffinity, undefined, 'no stickiness needed');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  });
});
