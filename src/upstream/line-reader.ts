/**
 * Newline-delimited framing by bytes, bounded. A newline byte never occurs inside a UTF-8 sequence, so lines
 * are split before decoding: only the new chunk is searched (a line arriving a byte at a time is never
 * rescanned) and a line is measured in bytes before it is ever decoded. Invalid UTF-8 decodes to U+FFFD;
 * a trailing CR is dropped (CRLF).
 *
 *   const r = new LineReader(16)
 *   r.push(Buffer.from('{"a":1}\n{"b"')) // ['{"a":1}']
 *   r.push(Buffer.from(':2}\n'))         // ['{"b":2}']
 */
import { UpstreamFault } from './fault.js';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class LineReader {
  /** The bytes of the line being read (no newline yet), and how many. */
  private partial: Buffer[] = [];
  private partialBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The lines `chunk` completes; throws UpstreamFault once a line is longer than the bound. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(NEWLINE, start)) >= 0) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.partialBytes + piece.length > this.maxLineBytes) throw this.tooLong();
      const bytes = this.partial.length > 0 ? Buffer.concat([...this.partial, piece]) : piece;
      this.partial = [];
      this.partialBytes = 0;
      lines.push(bytes.toString('utf8', 0, bytes.at(-1) === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length));
    }
    if (start < chunk.length) {
      if (this.partialBytes + chunk.length - start > this.maxLineBytes) throw this.tooLong();
      this.partial.push(chunk.subarray(start));
      this.partialBytes += chunk.length - start;
    }
    return lines;
  }

  private tooLong(): UpstreamFault {
    this.partial = [];
    this.partialBytes = 0;
    return new UpstreamFault(`wrote a line longer than ${this.maxLineBytes} bytes`);
  }
}
