/**
 * What approvers are shown of a held call, on every surface that renders it (the CLI's text, the page's
 * HTML): the whole call, whatever an agent does to hide part of it. Each hiding place is tried: a payload
 * after the 256th character, under a key named like a credential, nested 20 deep, past the 64th key, in a
 * huge array; and each way to fool the eye: terminal escapes, HTML, bidirectional overrides, zero-width
 * characters, line separators, fake size notes. Sizes are exact.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { printable, renderCall, type ShownCall } from '../../src/approvals/index.js';
import { requestPage, resultPage } from '../../src/ingress/approval-html.js';
import type { ApprovalRecord } from '../../src/store/types.js';

/** A value nested `depth` objects deep, the leaf a marker. */
function deep(depth: number, leaf: string): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf };
  for (let i = depth - 1; i > 0; i--) v = { [`level${i}`]: v };
  return v;
}

const manyKeys = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i === 69 ? 'KEY-70-PAYLOAD' : i]));

/** The call an agent sends to slip something past an approver. */
const sneaky = {
  name: 'write_file',
  arguments: {
    path: '/data/report.txt',
    content: `${'a'.repeat(300)}PAYLOAD-AFTER-300`,
    password: 'hunter2-under-a-credential-key',
    apiKey: 'ghp_0123456789abcdefghijklmnopqrstuvwxyz',
    deep: deep(20, 'PAYLOAD-AT-DEPTH-20'),
    many: manyKeys,
    list: [...Array.from({ length: 100 }, (_, i) => i), 'ITEM-101'],
    html: '<script>alert(1)</script><img src=x onerror=alert(2)>',
    ansi: '\u001b[2K\u001b[1A\u001b[32mlooks harmless\u001b[0m\rOVERWRITTEN',
    bidi: 'safe.txt\u202etxt.exe',
    zeroWidth: 'rm\u200b -rf\u2060 /',
    separator: 'one\u2028two\u2029three',
    lone: 'x\ud800y',
    fakeNote: 'v"  // 3 characters',
    emoji: '😀 ünïcödé',
  },
  _meta: { trace: 'T-1' },
};

/** Controls (but the line feed), bidi and zero-width characters, separators: none may reach an approver raw. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const INVISIBLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

const record = (over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
  id: '01a2439c-4efd-76dd-9a76-58e2118a7992',
  digest: 'f'.repeat(64),
  agent: 'agent\u202e-x',
  user: 'alice',
  tenant: null,
  chain: [],
  task: null,
  upstream: 'files',
  tool: 'files__write_file',
  arguments: '{"path":"/data/report.txt"}',
  reason: 'destructive <b>tools</b> in prod',
  policyIds: ['hold'],
  createdAt: '2100-01-01T00:00:00.000Z',
  expiresAt: '2100-01-01T01:00:00.000Z',
  state: 'pending',
  decidedBy: null,
  decidedAt: null,
  decisionReason: null,
  consumedAt: null,
  ...over,
});

describe('the approver\'s view of a call', () => {
  const text = renderCall(sneaky);

  test('every part of the call is there, in full', () => {
    for (const marker of ['PAYLOAD-AFTER-300', 'hunter2-under-a-credential-key', 'ghp_0123456789abcdefghijklmnopqrstuvwxyz', 'PAYLOAD-AT-DEPTH-20', 'KEY-70-PAYLOAD', '"k69"', 'ITEM-101', '"trace": "T-1"']) {
      assert.ok(text.includes(marker), `${marker} is shown`);
    }
    assert.ok(text.includes(`"content": "${'a'.repeat(300)}PAYLOAD-AFTER-300"`), 'the long value whole, not cut');
    // Reading it back gives the call itself: nothing dropped, nothing added (size notes aside).
    const asJson = text.replace(/ {2}\/\/ [0-9,]+ (keys?|items?|characters)(, [0-9,]+ bytes?( UTF-8)?)?$/gm, '');
    assert.deepEqual(JSON.parse(asJson), sneaky);
  });

  test('nothing in it acts on a terminal or hides text: controls, bidi, zero-width and separators are escapes', () => {
    assert.doesNotMatch(text, INVISIBLE);
    // Every line is one key or value of the structure: no value starts a line of its own making.
    for (const line of text.split('\n')) assert.match(line, /^( {2})*("|\{|\}|\[|\]|-?[0-9]|true|false|null)/, line);
    assert.ok(text.includes('"ansi": "\\u001b[2K\\u001b[1A\\u001b[32mlooks harmless\\u001b[0m\\rOVERWRITTEN"'));
    assert.ok(text.includes('"bidi": "safe.txt\\u202etxt.exe"'));
    assert.ok(text.includes('"zeroWidth": "rm\\u200b -rf\\u2060 /"'));
    assert.ok(text.includes('"separator": "one\\u2028two\\u2029three"'));
    assert.ok(text.includes('"lone": "x\\ud800y"'));
    assert.ok(text.includes('"emoji": "😀 ünïcödé"'), 'ordinary characters stay readable');
    // A value cannot forge a size note: its quotes are escaped, the real note follows the closing quote.
    assert.ok(text.includes('"fakeNote": "v\\"  // 3 characters",'));
    assert.equal(printable('a\u001b[31mb\nc\u202ed'), 'a\\u001b[31mb\\u000ac\\u202ed');
  });

  test('sizes are exact: every object and array says its keys and bytes, every long string its length', () => {
    const bytes = Buffer.byteLength(JSON.stringify(sneaky));
    assert.ok(text.startsWith(`{  // 3 keys, ${bytes.toLocaleString('en-US')} bytes\n`), text.slice(0, 80));
    assert.match(text, /"many": \{ {2}\/\/ 70 keys, /);
    assert.match(text, /"list": \[ {2}\/\/ 101 items, /);
    assert.match(text, /"content": "a+PAYLOAD-AFTER-300", {2}\/\/ 317 characters$/m);
    const argBytes = Buffer.byteLength(JSON.stringify(sneaky.arguments.many));
    assert.ok(text.includes(`"many": {  // 70 keys, ${argBytes.toLocaleString('en-US')} bytes`));
    // Multi-byte text gives characters and bytes.
    assert.match(renderCall({ s: 'é'.repeat(70) }), /\/\/ 70 characters, 140 bytes UTF-8/);
    // Escapes in the JSON text do not count as the value's bytes.
    assert.match(renderCall({ s: '"'.repeat(70) }), /\/\/ 70 characters$/m);
  });

  test('the page shows it HTML-escaped, with the sizes; no markup from the call or the record gets through', () => {
    const call: ShownCall = { shown: true, params: sneaky, bytes: Buffer.byteLength(JSON.stringify(sneaky)) };
    const html = requestPage({ record: record(), name: 'bob', expired: false, refusal: null, csrf: 'c', call });
    assert.ok(!html.includes('<script>alert'), 'the script is text');
    assert.ok(!html.includes('<img src=x'), 'the image is text');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;'));
    assert.ok(html.includes('destructive &lt;b&gt;tools&lt;/b&gt; in prod'));
    assert.ok(html.includes('agent\\u202e-x'), 'a bidi override in a name is shown as an escape');
    assert.doesNotMatch(html, INVISIBLE);
    for (const marker of ['PAYLOAD-AFTER-300', 'hunter2-under-a-credential-key', 'PAYLOAD-AT-DEPTH-20', 'KEY-70-PAYLOAD', 'ITEM-101']) assert.ok(html.includes(marker), marker);
    assert.ok(html.includes(`${call.bytes.toLocaleString('en-US')} bytes</strong> as JSON`));
    assert.match(html, /<button type="submit" name="decision" value="approve">Approve<\/button>/);
  });

  test('a call that cannot be shown cannot be approved on the page: the reason, the summary, and Deny only', () => {
    const html = requestPage({ record: record(), name: 'bob', expired: false, refusal: null, csrf: 'c', call: { shown: false, reason: 'the complete call was not kept for this request' } });
    assert.match(html, /The complete call is not shown: the complete call was not kept for this request\./);
    assert.match(html, /Arguments \(redacted summary\)/);
    assert.doesNotMatch(html, /value="approve"/);
    assert.match(html, /value="deny">Deny/);
    // After a decision the summary is what remains.
    const done = resultPage(record({ state: 'approved', decidedBy: 'bob', decidedAt: '2100-01-01T00:10:00.000Z' }));
    assert.match(done, /Arguments \(redacted summary\)/);
  });
});
