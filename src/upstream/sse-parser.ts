/** An incremental Server-Sent Events parser: feed it chunks, it calls back once per complete event. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = '';
  /** The last event id seen, for resuming a stream with Last-Event-ID. */
  lastEventId?: string;

  constructor(private readonly onEvent: (e: SseEvent) => void, private readonly maxBytes = 16 * 1024 * 1024) {}

  push(chunk: string): void {
    this.buffer += chunk;
    if (this.buffer.length > this.maxBytes) throw new Error('SSE event exceeds the size limit');
    let end: number;
    while ((end = this.nextBoundary()) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end).replace(/^(\r\n|\n|\r){2}|^\r\n\r\n/, '');
      this.parse(block);
    }
  }

  private nextBoundary(): number {
    const m = /\r\n\r\n|\n\n|\r\r/.exec(this.buffer);
    return m ? m.index : -1;
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    let id: string | undefined;
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
      else if (field === 'id') id = value;
    }
    if (id !== undefined) this.lastEventId = id;
    if (data.length > 0) this.onEvent({ event, data: data.join('\n'), ...(id !== undefined ? { id } : {}) });
  }
}
