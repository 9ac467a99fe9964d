// Stream sources: each delivers the raw text of events in batches, numbered by a sequence that a
// replay reproduces exactly (line number for stdin and files), from a given sequence on, and is
// told when a checkpoint has made everything before a sequence durable (to acknowledge upstream).

import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { AsofError } from '../errors.js';

export interface SourceRecord {
  seq: number;
  text: string;
  /** performance.now() when the record was read: the start of ingest -> servable latency. */
  received: number;
  /** The source's own position of the record (a Redis entry id), when it has one. */
  position?: string;
}

export interface StreamSource {
  readonly description: string;
  /**
   * Batches of records with seq >= `from`, in sequence order. An empty batch means "nothing new
   * yet" (a followed file): the job may checkpoint on time. The iteration ends with the input.
   */
  batches(from: number, afterPosition?: string): AsyncIterable<SourceRecord[]>;
  /** Everything before `upTo` is durable in the checkpoint (online and offline): never replayed again. */
  ack(upTo: number): Promise<void>;
  /** Everything before `nextSeq` is applied and committed online (servable): http answers then. */
  committed?(nextSeq: number): void;
  /** What became of a record applied for the first time (http reports it per event). */
  outcome?(seq: number, kind: 'accepted' | 'late' | 'dead', reason?: string): void;
  close(): Promise<void>;
}

/** Splits a byte stream into lines, numbering them from 0 and skipping those before `from`. */
class LineNumberer {
  private rest = '';
  private next = 0;
  constructor(private readonly from: number) {}

  push(chunk: string, out: SourceRecord[]): void {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    this.emit(lines, out);
  }

  end(out: SourceRecord[]): void {
    if (this.rest.length > 0) this.emit([this.rest], out);
    this.rest = '';
  }

  private emit(lines: string[], out: SourceRecord[]): void {
    const now = performance.now();
    for (const l of lines) {
      const line = l.endsWith('\r') ? l.slice(0, -1) : l;
      // blank lines carry no event and take no sequence number, so a replay numbers alike
      if (line.trim() === '') continue;
      const seq = this.next++;
      if (seq >= this.from) out.push({ seq, text: line, received: now });
    }
  }
}

export function stdinSource(input: NodeJS.ReadableStream = process.stdin): StreamSource {
  return {
    description: 'stdin',
    async *batches(from) {
      const lines = new LineNumberer(from);
      input.setEncoding?.('utf8');
      for await (const chunk of input) {
        const out: SourceRecord[] = [];
        lines.push(String(chunk), out);
        if (out.length > 0) yield out;
      }
      const out: SourceRecord[] = [];
      lines.end(out);
      if (out.length > 0) yield out;
    },
    ack: async () => {},
    close: async () => {},
  };
}

/** A JSON-lines file, read from the start (lines before `from` are skipped), followed as it grows unless `once`. */
export function fileSource(
  file: string,
  opts: { once: boolean; pollMs?: number; stop?: () => boolean },
): StreamSource {
  const abs = path.resolve(file);
  return {
    description: `file:${abs}`,
    async *batches(from) {
      let fd: number;
      try {
        fd = openSync(abs, 'r');
      } catch {
        throw new AsofError('usage', `stream source file not found: ${abs}`, { file: abs });
      }
      const lines = new LineNumberer(from);
      const buf = Buffer.alloc(1 << 20);
      const decoder = new TextDecoder('utf-8');
      try {
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n > 0) {
            const out: SourceRecord[] = [];
            lines.push(decoder.decode(buf.subarray(0, n), { stream: true }), out);
            yield out;
            continue;
          }
          if (opts.once || opts.stop?.()) break;
          yield [];
          await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
        }
        const out: SourceRecord[] = [];
        lines.end(out);
        if (out.length > 0) yield out;
      } finally {
        closeSync(fd);
      }
    },
    ack: async () => {},
    close: async () => {},
  };
}
