import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { runAuditVerify } from '../../src/cli/audit-verify.js';
import { openStore } from '../../src/store/index.js';
import { recorderWithCheckpoints, draft } from './tamper-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-verify-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, store: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `store: ${store}\nmcpServers:\n  files: { command: echo }\n`);
  return file;
}

async function run(opts: { config: string; json?: boolean }): Promise<{ code: number; out: string; err: string }> {
  const [out, err] = [new PassThrough(), new PassThrough()];
  const chunks = { out: '', err: '' };
  out.on('data', (d: Buffer) => (chunks.out += d.toString()));
  err.on('data', (d: Buffer) => (chunks.err += d.toString()));
  const code = await runAuditVerify(opts, out, err);
  return { code, ...chunks };
}

describe('warden audit verify', () => {
  test('intact: exit 0, a verdict line, counts and key thumbprints; --json', async () => {
    const store = await openStore(join(dir, 'ok.db'));
    const { recorder, cp } = recorderWithCheckpoints(store, 'cli', 10);
    for (let i = 0; i < 25; i++) await recorder.record(draft(i));
    await cp.stop();
    await store.close();
    const cfg = config('ok', 'ok.db');
    const text = await run({ config: cfg });
    assert.equal(text.code, 0, text.err);
    const lines = text.out.split('\n');
    assert.match(lines[0]!, /^audit chain INTACT: 25 events, \d+ checkpoints?$/);
    assert.match(text.out, /head: seq 25 [0-9a-f]{64}/);
    assert.match(text.out, /thumbprints[^\n]*\n\s+\S+\s+ES256\s+[A-Za-z0-9_-]{43}/);
    const json = await run({ config: cfg, json: true });
    assert.equal(json.code, 0);
    const r = JSON.parse(json.out) as { ok: boolean; events: number; store: string; keys: unknown[] };
    assert.deepEqual([r.ok, r.events, r.store, r.keys.length], [true, 25, join(dir, 'ok.db'), 1]);
  });

  test('broken: exit 1 and the first broken link', async () => {
    const store = await openStore(join(dir, 'bad.db'));
    const { recorder } = recorderWithCheckpoints(store, 'cli', 1000);
    for (let i = 0; i < 10; i++) await recorder.record(draft(i));
    await store.close();
    const raw = new Database(join(dir, 'bad.db'));
    raw.prepare("UPDATE warden_audit_events SET agent = 'someone-else' WHERE seq = 4").run();
    raw.close();
    const cfg = config('bad', 'bad.db');
    const text = await run({ config: cfg });
    assert.equal(text.code, 1);
    assert.match(text.out.split('\n')[0]!, /^audit chain BROKEN at seq 4 \(modified\): /);
    assert.match(text.out, /intact before the break: 3 events/);
    const json = JSON.parse((await run({ config: cfg, json: true })).out) as { ok: boolean; firstBroken: { seq: number; reason: string } };
    assert.deepEqual([json.ok, json.firstBroken.seq, json.firstBroken.reason], [false, 4, 'modified']);
  });

  test('unreadable: exit 1 for a missing store (never called intact, nor created) and an unreachable database; 2 for a bad config', async () => {
    const missing = await run({ config: config('missing', 'nowhere/warden.db') });
    assert.equal(missing.code, 1);
    assert.match(missing.err, /cannot read the audit store: no store at \S+ yet: nothing to verify/);
    assert.ok(!existsSync(join(dir, 'nowhere')), 'verify creates no store');
    assert.equal((await run({ config: join(dir, 'no-such-config.yaml') })).code, 2);
    const pgDown = await run({ config: config('pg', 'postgres://nobody:secret-pw@127.0.0.1:1/x'), json: true });
    assert.equal(pgDown.code, 1);
    assert.equal((JSON.parse(pgDown.out) as { ok: boolean }).ok, false);
    assert.ok(!pgDown.out.includes('secret-pw'));
  });
});
