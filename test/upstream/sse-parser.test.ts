import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser, type SseEvent } from '../../src/upstream/sse-parser.js';

test('events split across chunks and line endings are reassembled', () => {
  const got: SseEvent[] = [];
  const p = new SseParser((e) => got.push(e));
  p.push('event: message\nda');
  p.push('ta: {"a":1}\n');
  p.push('\n: comment\n\nid: 7\ndata: line1\r\ndata: line2\r\n\r\n');
  p.push('retry: 200\nid: 8\ndata:\n\n');
  assert.deepEqual(got, [
    { event: 'message', data: '{"a":1}' },
    { event: 'message', data: 'line1\nline2', id: '7' },
    { event: 'message', data: '', id: '8' },
  ]);
  assert.equal(p.lastEventId, '8');
});

test('an event id with no data still advances the resume point (priming events)', () => {
  const p = new SseParser(() => assert.fail('no data, no event'));
  p.push('id: abc\nretry: 100\n\n');
  assert.equal(p.lastEventId, 'abc');
});

test('an endless event is refused instead of growing without bound', () => {
  const p = new SseParser(() => undefined, 1024);
  assert.throws(() => p.push('data: ' + 'x'.repeat(2000)), /size limit/);
});
