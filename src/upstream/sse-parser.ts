/**
 * An incremental Server-Sent Events parser: feed it chunks, it calls back once per complete event. It works
 * line by line as the WHATWG spec reads a stream (CRLF, LF or CR end a line, even split across chunks), so a
 * chunk costs time in its own length only: an event that arrives a byte at a time is never rescanned. The
 * current line and the current event's data are bounded; past the bound `push` throws SseLimitError and the
 * stream must be dropped.
 */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** The stream broke a size bound: a line or an event larger than the parser accepts. */
export class SseLimitError extends Error {
  override readonly name = 'SseLimitError';
}

const LINE_BREAK = /[\r\n]/g;
const LF = 10;
const CR = 13;

export class SseParser {
  /** The last event id seen, for resuming a stream with Last-Event-ID. */
  lastEventId?: string;
  private line = '';
  /** The stream's previous chunk ended in CR: a LF at the start of this one belongs to that line break. */
  private afterCr = false;
  private event = '';
  private data: string[] = [];
  private dataSize = 0;
  private id?: string;

  constructor(private readonly onEvent: (e: SseEvent) => void, private readonly maxBytes = 16 * 1024 * 1024) {}

  push(chunk: string): void {
    let start = this.afterCr && chunk.charCodeAt(0) === LF ? 1 : 0;
    this.afterCr = false;
    LINE_BREAK.lastIndex = start;
    let m: RegExpExecArray | null;
    while ((m = LINE_BREAK.exec(chunk)) !== null) {
      const end = m.index;
      const line = this.line + chunk.slice(start, end);
      this.line = '';
      start = end + 1;
      if (chunk.charCodeAt(end) === CR) {
        if (start === chunk.length) this.afterCr = true;
        else if (chunk.charCodeAt(start) === LF) start++;
      }
      LINE_BREAK.lastIndex = start;
      this.take(line);
    }
    if (this.line.length + chunk.length - start > this.maxBytes) throw tooLarge();
    this.line += chunk.slice(start);
  }

  private take(line: string): void {
    if (line.length > this.maxBytes) throw tooLarge();
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') {
      this.dataSize += value.length + 1;
      if (this.dataSize > this.maxBytes) throw tooLarge();
      this.data.push(value);
    } else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }

  private dispatch(): void {
    const { event, data, id } = this;
    this.event = '';
    this.data = [];
    this.dataSize = 0;
    this.id = undefined;
    if (id !== undefined) this.lastEventId = id;
    if (data.length === 0) return;
    this.onEvent({ event: event === '' ? 'message' : event, data: data.join('\n'), ...(id !== undefined ? { id } : {}) });
  }
}

function tooLarge(): SseLimitError {
  return new SseLimitError('SSE event exceeds the size limit');
}
