/**
 * Fuzz: Server-Sent Events from upstreams. The incremental parser must give, for any split of any stream
 * into chunks, exactly the events a whole-text reading of the spec gives (a reference written here), or
 * refuse with SseLimitError exactly when a line or an event is over the bound. The byte counter in front
 * of the SDK's legacy SSE transport must fail a stream exactly when an event is over its bound.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SseLimitError, SseParser, type SseEvent } from '../../src/upstream/sse-parser.js';
import { boundedEventStream } from '../../src/upstream/sse-legacy.js';
import { BOUND_MS, expectOnly, fuzzParams, within } from './fuzz.js';

const PIECES = ['data:', 'data: ', 'data', 'event:', 'event: ping', 'id:', 'id: 7', 'retry: 5', ':', ': c', ' ', 'x', 'yz', '{"a":1}', 'é', '\0', '\r', '\n', '\r\n', '\n\n'];
const stream = fc.array(fc.constantFrom(...PIECES), { maxLength: 60 }).map((p) => p.join(''));
const cuts = fc.array(fc.nat({ max: 400 }), { maxLength: 10 });

function split(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  return [0, ...points].map((p, i, all) => text.slice(p, all[i + 1] ?? text.length));
}

/** The spec's reading of a whole stream: events, the last id, or 'limit' where a line or an event's data is over `max`. */
function reference(text: string, max: number): { events: SseEvent[]; lastEventId?: string } | 'limit' {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.some((l) => l.length > max)) return 'limit';
  const events: SseEvent[] = [];
  let lastEventId: string | undefined;
  let event = '';
  let data: string[] = [];
  let size = 0;
  let id: string | undefined;
  for (const line of lines.slice(0, -1)) {
    if (line === '') {
      if (id !== undefined) lastEventId = id;
      if (data.length > 0) events.push({ event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) });
      [event, data, size, id] = ['', [], 0, undefined];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      size += value.length + 1;
      if (size > max) return 'limit';
      data.push(value);
    } else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
  }
  return { events, ...(lastEventId !== undefined ? { lastEventId } : {}) };
}

/** The largest event of a byte stream, in bytes other than line breaks (events end at two line breaks in a row). */
function largestEvent(text: string): number {
  const lf = text.replace(/\r\n/g, '\n').replace(/\r/g, '\n');
  return Math.max(0, ...lf.split(/\n{2,}/).map((e) => Buffer.byteLength(e.replace(/\n/g, ''))));
}

describe('fuzz: SSE', () => {
  test('any chunking gives the reference events, or SseLimitError exactly when something is over the bound', () => {
    fc.assert(
      fc.property(stream, cuts, fc.integer({ min: 4, max: 200 }), (text, at, max) => {
        const got: SseEvent[] = [];
        const parser = new SseParser((e) => got.push(e), max);
        const { error } = within(BOUND_MS, () => {
          for (const chunk of split(text, at)) parser.push(chunk);
        });
        expectOnly(error, SseLimitError);
        const want = reference(text, max);
        if (want === 'limit') {
          assert.ok(error, 'over the bound: refused');
          return;
        }
        assert.equal(error, undefined);
        assert.deepEqual(got, want.events);
        assert.equal(parser.lastEventId, want.lastEventId);
      }),
      fuzzParams(1000),
    );
  });

  test('a huge or endless stream costs time in its length only', () => {
    fc.assert(
      fc.property(fc.constantFrom('data: ', 'x', '\r', ': '), fc.integer({ min: 1, max: 64 }), (unit, kb) => {
        const parser = new SseParser(() => undefined, 16 * 1024);
        const chunk = unit.repeat(Math.ceil(1024 / unit.length));
        const { error } = within(500, () => {
          for (let i = 0; i < kb * 16; i++) parser.push(chunk.slice(0, 64));
        });
        expectOnly(error, SseLimitError);
      }),
      fuzzParams(50),
    );
  });

  test('the legacy transport’s byte counter fails a stream exactly when an event is over its bound', async () => {
    await fc.assert(
      fc.asyncProperty(stream, cuts, fc.integer({ min: 1, max: 100 }), async (text, at, max) => {
        const bytes = Buffer.from(text);
        const chunks = split(bytes.toString('latin1'), at).map((c) => new Uint8Array(Buffer.from(c, 'latin1')));
        const source = new ReadableStream<Uint8Array>({
          start(c) {
            for (const chunk of chunks) c.enqueue(chunk);
            c.close();
          },
        });
        let told = false;
        const reader = boundedEventStream(source, max, () => (told = true)).getReader();
        let failed = false;
        const out: number[] = [];
        try {
          for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(...r.value);
        } catch {
          failed = true;
        }
        const over = largestEvent(text) > max;
        assert.equal(failed, over, `largest event ${largestEvent(text)} bytes, bound ${max}`);
        assert.equal(told, over);
        if (!over) assert.deepEqual(Buffer.from(out), bytes, 'passes the stream through unchanged');
      }),
      fuzzParams(500),
    );
  });
});
