/**
 * JSONL file sink: one JSON object per line, appended (O_APPEND) and fsynced per batch. Rotation by size:
 * when the next line would take the file past `maxBytes` it becomes `<file>.1`, `.1` becomes `.2`, and so
 * on; `keepFiles` files are kept in all (the current one included), the oldest is deleted.
 *
 * A batch that is repeated (delivery is at-least-once) is not written twice: the sink remembers the last seq
 * it wrote. After a restart it reads the last line back from its files and skips the repeated head of the
 * first batch only if that line's seq and id match an event in it (a reset store starts a new chain, which
 * is written in full). A torn last line from a crash mid-write is closed with a newline before appending.
 */
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent } from '../event.js';
import { seqOf, type Sink } from './types.js';

export interface JsonlSinkOptions {
  /** Directory of the files; created if missing. */
  dir: string;
  /** Default `warden-audit.jsonl`. */
  fileName?: string;
  /** Rotate before a file passes this many bytes. Default 100 MiB. */
  maxBytes?: number;
  /** Files kept in all, the current one included. Default 10. */
  keepFiles?: number;
  /** fsync after each batch. Default true. */
  fsync?: boolean;
  /** Sink (and cursor) name. Default `jsonl`. */
  name?: string;
}

const TAIL_BYTES = 1 << 20;

export class JsonlSink implements Sink {
  readonly name: string;
  readonly path: string;
  private readonly maxBytes: number;
  private readonly keepFiles: number;
  private readonly fsync: boolean;
  private size = -1;
  private lastSeq = 0;
  /** The last line found on disk at start, until the first batch has been checked against it. */
  private resume: { seq: number; id: string } | undefined;

  constructor(private readonly opts: JsonlSinkOptions) {
    this.name = opts.name ?? 'jsonl';
    this.path = join(opts.dir, opts.fileName ?? 'warden-audit.jsonl');
    this.maxBytes = opts.maxBytes ?? 100 * 1024 * 1024;
    this.keepFiles = opts.keepFiles ?? 10;
    this.fsync = opts.fsync ?? true;
    if (!(this.maxBytes > 0)) throw new Error('jsonl sink: maxBytes must be positive');
    if (!Number.isInteger(this.keepFiles) || this.keepFiles < 1) throw new Error('jsonl sink: keepFiles must be a whole number >= 1');
  }

  /** The file written now, then `.1`, `.2` ... (oldest last). */
  files(): string[] {
    return Array.from({ length: this.keepFiles }, (_, i) => (i === 0 ? this.path : `${this.path}.${i}`));
  }

  async deliver(events: AuditEvent[]): Promise<void> {
    if (this.size < 0) await this.init();
    events = this.skipRepeated(events);
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const e of events) {
      const seq = seqOf(e);
      if (seq <= this.lastSeq) continue;
      const line = JSON.stringify(e) + '\n';
      const bytes = Buffer.byteLength(line);
      if (this.size + chunkBytes > 0 && this.size + chunkBytes + bytes > this.maxBytes) {
        await this.write(chunk.join(''), chunkBytes);
        chunk = [];
        chunkBytes = 0;
        await this.rotate();
      }
      chunk.push(line);
      chunkBytes += bytes;
      this.lastSeq = seq;
    }
    if (chunk.length > 0) await this.write(chunk.join(''), chunkBytes);
  }

  private skipRepeated(events: AuditEvent[]): AuditEvent[] {
    const resume = this.resume;
    if (!resume) return events;
    this.resume = undefined;
    const at = events.findIndex((e) => seqOf(e) === resume.seq && e.id === resume.id);
    if (at < 0) return events;
    this.lastSeq = resume.seq;
    return events.slice(at + 1);
  }

  private async init(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    this.size = await sizeOf(this.path);
    if (this.size > 0 && !(await endsWithNewline(this.path, this.size))) await this.write('\n', 1);
    this.resume = (await lastLineOf(this.path)) ?? (await lastLineOf(`${this.path}.1`));
  }

  private async write(text: string, bytes: number): Promise<void> {
    if (bytes === 0) return;
    const fh = await open(this.path, 'a', 0o600);
    try {
      await fh.write(text);
      if (this.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    this.size += bytes;
  }

  private async rotate(): Promise<void> {
    const files = this.files();
    await rm(files[files.length - 1]!, { force: true });
    for (let i = files.length - 1; i >= 1; i--) {
      try {
        await rename(files[i - 1]!, files[i]!);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.size = 0;
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function endsWithNewline(path: string, size: number): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1);
    await fh.read(buf, 0, 1, size - 1);
    return buf[0] === 0x0a;
  } finally {
    await fh.close();
  }
}

/** Seq and id of the last complete event line of a file, or undefined if it has none. */
async function lastLineOf(path: string): Promise<{ seq: number; id: string } | undefined> {
  let text: string;
  try {
    const size = await sizeOf(path);
    if (size === 0) return undefined;
    if (size <= TAIL_BYTES) text = await readFile(path, 'utf8');
    else {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(TAIL_BYTES);
        await fh.read(buf, 0, TAIL_BYTES, size - TAIL_BYTES);
        text = buf.toString('utf8');
      } finally {
        await fh.close();
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const { seq, id } = JSON.parse(lines[i]!) as { seq?: unknown; id?: unknown };
      if (typeof seq === 'number' && typeof id === 'string') return { seq, id };
    } catch {
      // a torn last line (a crash mid-write): look at the one before
    }
  }
  return undefined;
}
