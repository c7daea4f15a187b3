/**
 * `warden review` on three setups, through the real binary:
 * - the demo (`warden demo`, then review its config and store): workload identities (SPIFFE) with owners,
 *   its policy holds destructive prod calls for approval and is deny-by-default, so no policy finding;
 * - a deliberately weak config (test/fixtures/posture-review/weak.yaml) over a store seeded with old
 *   secrets, a clear signing key, an unregistered and an idle agent, a revoked agent, unused grants: each
 *   check fires, each finding carries its fix, and `--fail-on` fails CI;
 * - a careful config with no store yet: nothing above info.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { uuidv7 } from '../../src/core/ids.js';
import { Vault } from '../../src/credentials/index.js';
import { depsFor, policyOf } from '../../src/cli/review.js';
import { validateConfig } from '../../src/config/index.js';
import { review, type PinRecord, type ReviewReport } from '../../src/posture/index.js';
import { openStore } from '../../src/store/index.js';
import { assertBuilt, runWarden, tempDir, writeConfig } from '../helpers/e2e.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { makeEvent } from '../store/store-suite.js';

const DAY = 86_400_000;
const FIXTURE = new URL('../fixtures/posture-review/weak.yaml', import.meta.url).pathname;
const STARTER = new URL('../../policies/starter/starter.cedar', import.meta.url).pathname;
const ago = (days: number) => new Date(Date.now() - days * DAY);

async function reviewJson(
  config: string,
  cwd: string,
  extra: string[] = [],
): Promise<{ code: number | null; report: ReviewReport; stderr: string }> {
  const r = await runWarden(['review', '-c', config, '--format', 'json', ...extra], { cwd, timeoutMs: 30_000 });
  return { code: r.code, report: JSON.parse(r.stdout || '{}') as ReviewReport, stderr: r.stderr };
}

const checksOf = (r: ReviewReport, kind?: string, name?: string) =>
  new Set(
    r.findings
      .filter((f) => kind === undefined || (f.subject.kind === kind && f.subject.name === name))
      .map((f) => f.check),
  );

describe('warden review', () => {
  const tmp = tempDir('warden-review-');
  before(() => assertBuilt());
  after(() => tmp.remove());

  test('the demo setup: verifiable agents with owners, policy deny-by-default with approvals on destructive prod tools', async () => {
    const demo = await runWarden(['demo', '--dir', 'demo'], { cwd: tmp.dir, timeoutMs: 60_000 });
    assert.equal(demo.code, 0, demo.stderr);
    const { code, report } = await reviewJson(join('demo', 'warden.yaml'), tmp.dir, [
      '--fail-on',
      'critical',
    ]);
    assert.equal(code, 0);
    const all = checksOf(report);
    assert.ok(all.has('annotations-trusted'), 'missing annotations-trusted');
    // The store keeps tool pins (migration 19): their absence is no longer reported.
    assert.ok(!all.has('pins-unavailable'), 'unexpected pins-unavailable');
    for (const c of [
      'auth-none',
      'agent-no-owner',
      'permit-all',
      'standing-privilege',
      'destructive-without-approval',
      'audit-chain-broken',
      'revocation-unavailable',
      'hardcoded-secret',
    ])
      assert.ok(!all.has(c), `unexpected ${c}`);
    assert.equal(
      report.findings.find((f) => f.check === 'annotations-trusted' && f.subject.name === 'files')?.severity,
      'medium',
      'trusting annotations in prod',
    );
    const planner = report.agents.find((a) => a.agent === 'spiffe://demo.test/planner')!;
    assert.deepEqual([planner.verifiable, planner.scoped, planner.revocable], ['yes', 'yes', 'yes']);
    for (const f of report.findings)
      assert.ok(
        f.fix.length > 20 && f.mapping.asi.length + f.mapping.mcp.length > 0,
        `${f.check} has no fix or mapping`,
      );
    const md = await runWarden(['review', '-c', join('demo', 'warden.yaml')], { cwd: tmp.dir });
    assert.equal((md.stdout.match(/^\*\*Fix:\*\*/gm) ?? []).length, report.findings.length);
  });

  test('a deliberately weak config: every check fires, each with its fix, and --fail-on fails', async () => {
    const dir = join(tmp.dir, 'weak');
    mkdirSync(dir);
    writeConfig(dir, readFileSync(FIXTURE, 'utf8'));
    copyFileSync(ALLOW_ALL_POLICY, join(dir, 'permit-all.cedar'));
    const store = await openStore(join(dir, 'warden.db'));
    try {
      const vault = await Vault.open(store.secrets, { current: randomBytes(32) }, { clock: () => ago(200) });
      await vault.set({ name: 'crm/token', upstream: 'crm', environment: 'prod' }, 'crm-token-value-1234567890');
      vault.close();
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      await store.keys.insert({
        kid: 'old-key',
        alg: 'ES256',
        publicJwk: await exportJWK(publicKey),
        privateKey: JSON.stringify(await exportJWK(privateKey)),
        createdAt: ago(120).toISOString(),
        retireAt: ago(90).toISOString(),
        expireAt: new Date(Date.now() + DAY).toISOString(),
      });
      const task = {
        id: uuidv7(),
        agent: 'ci-bot',
        user: null,
        tenant: null,
        purpose: 'release',
        servers: [],
        tools: ['files__read_text_file', 'files__write_file'],
        createdAt: ago(5).toISOString(),
        expiresAt: ago(4).toISOString(),
        state: 'ended' as const,
        endedAt: ago(4).toISOString(),
        endedBy: 'ci-bot',
      };
      await store.tasks.create(task);
      await store.audit.append([
        makeEvent({
          id: uuidv7(Date.now() - 60 * DAY),
          time: ago(60).toISOString(),
          agent: 'old-bot',
          authMethod: 'none',
        }),
        makeEvent({
          id: uuidv7(Date.now() - 5 * DAY),
          time: ago(5).toISOString(),
          agent: 'ci-bot',
          authMethod: 'none',
          task: task.id,
          upstream: 'files',
          target: 'read_text_file',
        }),
        makeEvent({ id: uuidv7(), agent: 'ghost-agent', authMethod: 'none' }),
      ]);
      await store.revocations.add({
        id: uuidv7(),
        kind: 'agent',
        value: 'old-bot',
        revokedAt: ago(30).toISOString(),
        by: 'alice',
        reason: 'laptop lost',
        expiresAt: null,
      });
    } finally {
      await store.close();
    }
    const { code, report } = await reviewJson('warden.yaml', dir, ['--fail-on', 'high']);
    assert.equal(code, 1, 'CI fails on a high finding');
    const gateway = checksOf(report, 'gateway', 'gateway');
    for (const c of [
      'auth-none',
      'no-tls',
      'permit-all',
      'token-ttl',
      'signing-key-stale',
      'signing-keys-clear',
      'audit-arguments-none',
      'audit-not-exported',
      'revocation-slow',
    ]) {
      assert.ok(gateway.has(c), `gateway: missing ${c}`);
    }
    assert.ok(!gateway.has('pins-unavailable'), 'the store keeps tool pins');
    assert.equal(
      report.findings.find((f) => f.check === 'auth-none')!.severity,
      'critical',
      'no authentication on a non-loopback listener',
    );
    assert.equal(report.findings.find((f) => f.check === 'permit-all')!.severity, 'critical');
    const expect: Array<[string, string, string[]]> = [
      ['agent', 'ci-bot', ['agent-no-owner', 'standing-privilege', 'grants-unused']],
      ['agent', 'old-bot', ['agent-unused', 'agent-revoked-registered']],
      ['agent', 'idle-bot', ['agent-unused']],
      ['agent', 'ghost-agent', ['agent-unregistered']],
      ['upstream', 'github', ['hardcoded-secret', 'plain-http-remote', 'destructive-without-approval']],
      [
        'upstream',
        'files',
        ['annotations-trusted', 'broad-filesystem-root', 'unpinned-package', 'destructive-without-approval'],
      ],
      ['upstream', 'crm', ['secret-not-rotated', 'static-credential', 'destructive-without-approval']],
      ['upstream', 'billing', ['secret-missing', 'static-credential']],
    ];
    for (const [kind, name, checks] of expect) {
      const got = checksOf(report, kind, name);
      for (const c of checks) assert.ok(got.has(c), `${kind} ${name}: missing ${c} (got ${[...got].join(', ')})`);
    }
    assert.ok(!checksOf(report, 'upstream', 'billing').has('destructive-without-approval'), 'staging is not prod');
    assert.match(report.findings.find((f) => f.check === 'grants-unused')!.why, /files__write_file/);
    for (const a of report.agents) assert.equal(a.verifiable, 'no');
    assert.deepEqual(
      report.upstreams.map((u) => [u.upstream, u.credential, u.revocable]),
      [
        ['github', 'literal', 'no'],
        ['files', 'none', 'partial'],
        ['crm', 'vault', 'partial'],
        ['billing', 'vault', 'partial'],
      ],
    );
    for (const f of report.findings) assert.ok(f.fix.length > 20, `${f.check} has no fix`);
    const text = JSON.stringify(report);
    assert.ok(
      !text.includes('ghp_Vq3Lm8Tz1Rk6Wn0Yb4Hs9Jd2Fx7Pc5Ga1Ue0') && !text.includes('crm-token-value'),
      'no secret in the report',
    );
  });

  test('tool pins, when the store keeps them: integrity off, definitions pending, prod pins never reviewed', async () => {
    const dir = join(tmp.dir, 'pins');
    mkdirSync(dir);
    const raw = {
      listen: '127.0.0.1:7400',
      auth: { mode: 'none' },
      mcpServers: {
        docs: { command: 'docs-mcp' },
        wiki: { command: 'wiki-mcp', environment: 'dev' },
        raw: { command: 'raw-mcp' },
      },
    };
    const file = writeConfig(dir, raw);
    const config = validateConfig(raw, file);
    // This branch's schema predates tool integrity: the per-server mode is set as the integrity branch's schema would.
    Object.assign(config.mcpServers.raw!, { integrity: 'off' });
    const records: PinRecord[] = [
      { upstream: 'docs', kind: 'tool', name: 'search', state: 'approved', decidedBy: 'trust-on-first-use' },
      { upstream: 'docs', kind: 'tool', name: 'fetch', state: 'pending', decidedBy: null },
      { upstream: 'wiki', kind: 'tool', name: 'read', state: 'approved', decidedBy: 'trust-on-first-use' },
    ];
    const base = {
      configFile: file,
      config,
      baseDir: dir,
      store: undefined,
      policy: policyOf(config, dir),
      deps: depsFor(config),
      now: new Date(),
      unusedDays: 30,
      maxSecretAgeDays: 90,
      home: tmp.dir,
    };
    const withPins = await review({ ...base, pins: { list: async () => records } });
    const got = withPins.findings
      .filter((f) => f.check.startsWith('pins') || f.check === 'tools-unpinned')
      .map((f) => `${f.check} ${f.subject.name}`)
      .sort();
    assert.deepEqual(got, ['pins-pending docs', 'pins-unreviewed docs', 'tools-unpinned raw']);
    const without = await review(base);
    assert.deepEqual(
      without.findings.filter((f) => f.check.startsWith('pins')).map((f) => f.check),
      ['pins-unavailable'],
    );
  });

  test('a careful config with no store yet: nothing above info', async () => {
    const dir = join(tmp.dir, 'careful');
    mkdirSync(dir);
    copyFileSync(STARTER, join(dir + '-starter.cedar'));
    writeFileSync(join(tmp.dir, 'jwks.json'), JSON.stringify({ keys: [] }));
    writeConfig(dir, {
      listen: '127.0.0.1:7400',
      publicUrl: 'https://mcp.acme.example/mcp',
      auth: { mode: 'oauth', issuers: [{ issuer: 'https://login.acme.example', jwksFile: '../jwks.json' }] },
      policy: { files: [dir + '-starter.cedar'] },
      approvals: { approvers: ['alice'] },
      audit: { sinks: { jsonl: { dir: 'audit' } } },
      agents: { 'ci-bot': { owner: 'alice', tenant: 'acme' } },
      mcpServers: {
        files: {
          command: 'npx',
          args: ['-y', '@modelcontextprotocol/server-filesystem@2025.8.21', '/srv/acme/docs'],
          tenant: 'acme',
        },
      },
    });
    const { code, report, stderr } = await reviewJson('warden.yaml', dir, ['--fail-on', 'low']);
    assert.equal(code, 0, `${stderr}\n${JSON.stringify(report.findings, null, 1)}`);
    assert.deepEqual([...checksOf(report)], ['pins-unavailable']);
    assert.match(report.notes.join('\n'), /no store yet/);
  });
});
