import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REDACTED, redactArguments } from '../../src/audit/redact.js';

test('credential-named values and credential-shaped strings are replaced, the shape stays', () => {
  const args = {
    path: '/data/report.txt',
    password: 'hunter2',
    nested: { apiKey: 'abc', Authorization: 'Bearer x', list: ['ghp_' + 'a'.repeat(36), 'plain'] },
    note: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig',
    pem: '-----BEGIN PRIVATE KEY-----\nMIIE...',
    count: 3,
  };
  const out = JSON.parse(redactArguments(args));
  assert.equal(out.path, '/data/report.txt');
  assert.equal(out.password, REDACTED);
  assert.equal(out.nested.apiKey, REDACTED);
  assert.equal(out.nested.Authorization, REDACTED);
  assert.deepEqual(out.nested.list, [REDACTED, 'plain']);
  assert.equal(out.note, REDACTED);
  assert.equal(out.pem, REDACTED);
  assert.equal(out.count, 3);
  const text = redactArguments(args);
  for (const secret of ['hunter2', 'abc"', 'Bearer x', 'ghp_', 'eyJhbGci', 'BEGIN PRIVATE']) assert.ok(!text.includes(secret), secret);
});

test('size, depth and breadth are bounded', () => {
  assert.ok(redactArguments({ big: 'x'.repeat(100_000) }).length < 400);
  let deep: unknown = 'bottom';
  for (let i = 0; i < 50; i++) deep = { d: deep };
  assert.match(redactArguments(deep), /nested too deep/);
  const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
  assert.match(redactArguments(wide), /436 more keys/);
  const huge = Array.from({ length: 60 }, () => 'y'.repeat(250));
  assert.ok(redactArguments({ a: huge, b: huge }).length <= 4096);
});
