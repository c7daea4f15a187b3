/**
 * The Redactor (issue 5 item 5): injected secret values replaced by `[redacted:NAME]` in every string of a
 * JSON value, keys included, in the encodings an upstream is likely to echo them in, and in upstream errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodedForms, MIN_REDACTED_LENGTH, Redactor } from '../../src/credentials/redactor.js';
import { UpstreamRpcError, WardenError } from '../../src/protocol/errors.js';

const TOKEN = 'ghp_Zx8Qw2Lm9Tr4Yv6Bn1Kc3';
const redactor = (...pairs: Array<[string, string]>) => {
  const r = new Redactor();
  r.add(pairs.map(([name, value]) => ({ name, value })));
  return r;
};

describe('walking a JSON value', () => {
  test('strings at any depth, in arrays, and object keys; the flag and the names found', () => {
    const r = redactor(['gh/token', TOKEN], ['db/pw', 'correct-horse-battery']);
    const input = {
      content: [{ type: 'text', text: `Authorization: Bearer ${TOKEN}` }],
      deep: { a: [[{ b: `x${TOKEN}y${TOKEN}` }]], n: 5, t: true, z: null },
      [TOKEN]: 'a key',
      other: 'correct-horse-battery staple',
    };
    const out = r.json(input);
    assert.equal(out.redacted, true);
    assert.deepEqual(out.names.sort(), ['db/pw', 'gh/token']);
    assert.deepEqual(out.value, {
      content: [{ type: 'text', text: 'Authorization: Bearer [redacted:gh/token]' }],
      deep: { a: [[{ b: 'x[redacted:gh/token]y[redacted:gh/token]' }]], n: 5, t: true, z: null },
      '[redacted:gh/token]': 'a key',
      other: '[redacted:db/pw] staple',
    });
    assert.ok(!JSON.stringify(out.value).includes(TOKEN));
    assert.equal(input.content[0]!.text, `Authorization: Bearer ${TOKEN}`, 'the input is not changed');
  });

  test('nothing found: the same object back, untouched; an empty redactor passes everything', () => {
    const value = { a: [{ b: 'harmless' }], c: 1 };
    const out = redactor(['gh/token', TOKEN]).json(value);
    assert.equal(out.value, value);
    assert.equal(out.redacted, false);
    assert.deepEqual(out.names, []);
    const empty = new Redactor();
    assert.equal(empty.empty, true);
    assert.equal(empty.json(value).value, value);
    assert.equal(empty.text(TOKEN), TOKEN);
  });

  test('a __proto__ key stays data; the longest value wins when one contains another; markers are not rescanned', () => {
    const parsed = JSON.parse(`{"__proto__": {"x": "${TOKEN}"}}`) as Record<string, unknown>;
    const out = redactor(['t', TOKEN]).json(parsed).value;
    assert.deepEqual(Object.keys(out), ['__proto__']);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { x: '[redacted:t]' });
    const r = redactor(['short', 'abcdefgh'], ['long', 'abcdefgh-ijkl'], ['marker', 'redacted:long']);
    assert.equal(r.text('abcdefgh-ijkl and abcdefgh'), '[redacted:long] and [redacted:short]');
  });

  test('a rotated secret: old and new values are both redacted', () => {
    const r = redactor(['api', 'first-value-123']);
    r.add([{ name: 'api', value: 'second-value-456' }]);
    assert.equal(r.text('first-value-123 second-value-456'), '[redacted:api] [redacted:api]');
  });
});

describe('encodings', () => {
  const value = 'p@ss word/"quoted"+=?&';
  const r = redactor(['pw', value]);
  const b = Buffer.from(value);

  for (const [what, encoded] of [
    ['JSON-escaped (inside JSON text)', JSON.stringify({ pw: value })],
    ['base64', `Basic ${b.toString('base64')}`],
    ['base64url', `token=${b.toString('base64url')}.`],
    ['URL-encoded', `https://h.example/?k=${encodeURIComponent(value)}&x=1`],
  ] as const) {
    test(what, () => {
      const out = r.text(encoded);
      assert.match(out, /\[redacted:pw\]/);
      for (const form of encodedForms(value)) assert.ok(!out.includes(form), `${what}: ${out} still holds ${form}`);
    });
  }

  test('base64 of a longer text holding the value at a 3-byte boundary: the aligned part is replaced', () => {
    const secret = 'SuperSecretValue-0123456789';
    const blob = Buffer.from(`abc${secret}and more text`).toString('base64');
    const out = redactor(['s', secret]).text(blob);
    assert.match(out, /\[redacted:s\]/);
    const aligned = Buffer.from(secret).subarray(0, secret.length - (secret.length % 3)).toString('base64');
    assert.ok(!out.includes(aligned));
  });

  test(`values shorter than ${MIN_REDACTED_LENGTH} characters are not redacted, errors included`, () => {
    const r = redactor(['tiny', 'dev12']);
    assert.equal(r.empty, true);
    assert.equal(r.text('device dev12'), 'device dev12');
    const err = new UpstreamRpcError(-32000, 'bad key dev12');
    assert.equal(r.error(err).value, err);
  });
});

describe('upstream errors', () => {
  const r = redactor(['gh/token', TOKEN]);

  test('an UpstreamRpcError: message and data redacted, code kept', () => {
    const err = new UpstreamRpcError(-32042, `token ${TOKEN} was refused`, { echo: { header: `Bearer ${TOKEN}` }, n: 1 });
    const out = r.error(err);
    assert.equal(out.redacted, true);
    assert.ok(out.value instanceof UpstreamRpcError);
    assert.equal(out.value.rpcCode, -32042);
    assert.equal(out.value.message, 'token [redacted:gh/token] was refused');
    assert.deepEqual(out.value.rpcData, { echo: { header: 'Bearer [redacted:gh/token]' }, n: 1 });
  });

  test('a WardenError keeps its code and statuses; other errors and clean ones pass as they are', () => {
    const err = new WardenError('upstream_unavailable', `could not reach https://h.example/?k=${TOKEN}`, -32001, 502, { url: TOKEN });
    const out = r.error(err).value as WardenError;
    assert.equal(out.code, 'upstream_unavailable');
    assert.equal(out.jsonRpcCode, -32001);
    assert.equal(out.httpStatus, 502);
    assert.equal(out.message, 'could not reach https://h.example/?k=[redacted:gh/token]');
    assert.deepEqual(out.data, { url: '[redacted:gh/token]' });
    const clean = new UpstreamRpcError(-1, 'fine');
    assert.equal(r.error(clean).value, clean);
    const plain = new Error(TOKEN);
    assert.deepEqual(r.error(plain), { value: plain, redacted: false, names: [] });
  });
});

describe('forms an upstream can hand a value back in (issue 11 item 5)', () => {
  test('hex and base32 values in any letter case; other values stay case-sensitive', () => {
    const hexValue = 'deadbeef0123456789abcdef';
    const b32 = 'MFRGGZDFMZTWQ2LKNNWG23TP';
    const r = redactor(['hex', hexValue], ['b32', b32], ['word', 'Password-Xy']);
    assert.equal(r.text(`a ${hexValue.toUpperCase()} b DeAdBeEf0123456789AbCdEf`), 'a [redacted:hex] b [redacted:hex]');
    assert.equal(r.text(b32.toLowerCase()), '[redacted:b32]');
    assert.equal(r.text('password-xy'), 'password-xy', 'a value that is not hex or base32 is matched as written');
  });

  test('a value cut across consecutive text items (content blocks, contents, messages, strings) is found', () => {
    const r = redactor(['t', TOKEN]);
    const cut = (at: number) => [TOKEN.slice(0, at), TOKEN.slice(at)];
    const [a, b] = cut(9);
    const out = r.json({ content: [{ type: 'text', text: `token: ${a}` }, { type: 'text', text: `${b} end` }, { type: 'image', data: 'x' }] });
    assert.deepEqual(out.value.content, [{ type: 'text', text: 'token: [redacted:t]' }, { type: 'text', text: ' end' }, { type: 'image', data: 'x' }]);
    assert.equal(out.redacted, true);
    const three = [TOKEN.slice(0, 5), TOKEN.slice(5, 10), TOKEN.slice(10)];
    assert.deepEqual(r.json({ contents: three.map((text) => ({ uri: 'x://y', text })) }).value.contents.map((c) => c.text), ['[redacted:t]', '', '']);
    assert.deepEqual(r.json({ messages: [{ role: 'user', content: { type: 'text', text: a } }, { role: 'user', content: { type: 'text', text: b } }] }).value.messages.map((m) => m.content.text), ['[redacted:t]', '']);
    assert.deepEqual(r.json([a, b]).value, ['[redacted:t]', '']);
    // Items with no text between the parts break the run: those are not one text to a client.
    const apart = { content: [{ type: 'text', text: a }, { type: 'image', data: 'x' }, { type: 'text', text: b }] };
    assert.equal(r.json(apart).value, apart);
  });

  test('values added under a scope (a task\'s leases) leave with it; a value another scope added stays', () => {
    const r = new Redactor();
    r.add([{ name: 'lease', value: 'lease-value-1234' }], 'task:1');
    r.add([{ name: 'lease', value: 'shared-by-two-tasks' }], 'task:1');
    r.add([{ name: 'lease', value: 'shared-by-two-tasks' }], 'task:2');
    r.add([{ name: 'vault', value: 'vault-value-9876' }]);
    r.forget('task:1');
    assert.equal(r.text('lease-value-1234 shared-by-two-tasks vault-value-9876'), 'lease-value-1234 [redacted:lease] [redacted:vault]');
    r.forget('task:2');
    r.forget('');
    assert.equal(r.text('shared-by-two-tasks vault-value-9876'), 'shared-by-two-tasks [redacted:vault]');
  });
});
