import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { eventContent, eventHash, GENESIS_HASH, isLinkHash, linkContents, linkHash } from '../../src/audit/chain.js';
import type { AuditEvent } from '../../src/audit/event.js';

const event: AuditEvent = {
  id: '01900000-0000-7000-8000-000000000001',
  time: '2026-01-02T03:04:05.678Z',
  instance: 'gw-1',
  sessionId: null,
  agent: 'agent-1',
  user: 'alice',
  tenant: null,
  chain: ['a', 'b'],
  authMethod: 'oauth-jwt',
  protocolVersion: '2025-11-25',
  method: 'tools/call',
  upstream: 'files',
  target: 'read_file',
  argsDigest: null,
  outcome: 'ok',
  errorCode: null,
  latencyMs: 1.5,
};

describe('audit hash chain', () => {
  test('hash = sha256hex(prevHash + newline + canonical content without nulls)', () => {
    const content =
      '{"agent":"agent-1","authMethod":"oauth-jwt","chain":["a","b"],"id":"01900000-0000-7000-8000-000000000001","instance":"gw-1",' +
      '"latencyMs":1.5,"method":"tools/call","outcome":"ok","protocolVersion":"2025-11-25","target":"read_file","time":"2026-01-02T03:04:05.678Z",' +
      '"upstream":"files","user":"alice"}';
    assert.equal(eventContent(event), content);
    const expected = createHash('sha256').update(`${GENESIS_HASH}\n${content}`).digest('hex');
    assert.equal(eventHash(GENESIS_HASH, event), expected);
    assert.equal(linkHash(GENESIS_HASH, content), expected);
    assert.equal(GENESIS_HASH, '0'.repeat(64));
    assert.ok(isLinkHash(expected));
    assert.ok(!isLinkHash(expected.toUpperCase()) && !isLinkHash(null));
  });

  test('the chain fields, key order and null-vs-absent do not change the content', () => {
    const reordered = Object.fromEntries(Object.entries(event).reverse()) as unknown as AuditEvent;
    const withChain = { ...event, seq: 9, prevHash: 'f'.repeat(64), hash: 'e'.repeat(64) };
    const withNewNullColumn = { ...event, task: null } as AuditEvent;
    for (const e of [reordered, withChain, withNewNullColumn]) assert.equal(eventContent(e), eventContent(event));
  });

  test('any field change, or another predecessor, changes the hash', () => {
    const h = eventHash(GENESIS_HASH, event);
    const changes: Partial<AuditEvent>[] = [{ target: 'write_file' }, { latencyMs: 1.25 }, { chain: ['a'] }, { sessionId: 's' }, { outcome: 'denied' }, { user: null }];
    for (const c of changes) assert.notEqual(eventHash(GENESIS_HASH, { ...event, ...c }), h, JSON.stringify(c));
    assert.notEqual(eventHash('1'.repeat(64), event), h);
  });

  test('linkContents numbers and links after a head, or from genesis', () => {
    const contents = ['{"a":1}', '{"a":2}', '{"a":3}'];
    const fresh = linkContents(undefined, contents);
    assert.deepEqual(fresh.map((l) => l.seq), [1, 2, 3]);
    assert.equal(fresh[0]!.prevHash, GENESIS_HASH);
    assert.equal(fresh[1]!.prevHash, fresh[0]!.hash);
    assert.equal(fresh[2]!.hash, linkHash(fresh[1]!.hash, '{"a":3}'));
    const more = linkContents({ seq: 3, hash: fresh[2]!.hash }, ['{"a":4}']);
    assert.deepEqual(more, [{ seq: 4, prevHash: fresh[2]!.hash, hash: linkHash(fresh[2]!.hash, '{"a":4}') }]);
    assert.deepEqual(linkContents(undefined, []), []);
  });
});
