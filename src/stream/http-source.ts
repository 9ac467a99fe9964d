// The `http` stream source: `POST /v1/ingest/<source>` appends a batch of events to a durable log
// (.asof/online/ingest/<source>/, segments named by their first sequence) and hands them to the
// stream job; the request is answered once a checkpoint has committed them, with what became of
// each event. The log is what a restart replays (from the offline checkpoint), so an answered
// event is never lost; segments are deleted once the offline checkpoint has passed them.

import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
} from 'node:fs';
import path from 'node:path';
import { AsofError } from '../errors.js';
import type { SourceRecord, StreamSource } from './sources.js';

/** What an ingest request gets back: counts, and the events that went to the dead letters. */
export interface IngestResult {
  received: number;
  accepted: number;
  late: number;
  dead: number;
  /** Index in the request -> reason (late events are listed with their reason too). */
  rejected: { index: number; outcome: 'late' | 'dead'; reason: string }[];
  /** The source offsets given to the batch (first and last). */
  offsets: [number, number];
}

interface Waiter {
  first: number;
  last: number;
  result: IngestResult;
  resolve: (r: IngestResult) => void;
  reject: (e: Error) => void;
}

const SEGMENT_FILE = /^(\d{12})\.jsonl$/;
const pad = (n: number) => String(n).padStart(12, '0');

export interface HttpSourceOptions {
  /** Start a new log segment after this many events. */
  segmentEvents?: number;
  /** fsync the log before answering (survives power loss, not only a killed process). */
  fsync?: boolean;
  /** At most this many events waiting for the job before ingest answers 503. */
  maxQueued?: number;
}

export class HttpIngestSource implements StreamSource {
  readonly description: string;
  private next = 0;
  private segmentStart = 0;
  private segmentLines = 0;
  private queue: SourceRecord[] = [];
  private waiters: Waiter[] = [];
  private wake: (() => void) | null = null;
  private stopping = false;
  private failed: Error | null = null;

  constructor(
    readonly source: string,
    private readonly dir: string,
    private readonly opts: HttpSourceOptions = {},
  ) {
    this.description = `http ingest ${source} (log ${dir})`;
    mkdirSync(dir, { recursive: true });
    const segs = this.segments();
    const last = segs.at(-1);
    if (last !== undefined) {
      const file = this.file(last);
      const text = readFileSync(file, 'utf8');
      // a batch cut short by a crash was never answered: drop its partial last line
      const end = text.lastIndexOf('\n') + 1;
      if (end < Buffer.byteLength(text)) truncateSync(file, Buffer.byteLength(text.slice(0, end)));
      this.segmentStart = last;
      this.segmentLines = countLines(text.slice(0, end));
      this.next = last + this.segmentLines;
    }
  }

  private file(start: number): string {
    return path.join(this.dir, `${pad(start)}.jsonl`);
  }

  private segments(): number[] {
    return readdirSync(this.dir)
      .map((f) => SEGMENT_FILE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** Events queued or not yet committed (for backpressure and metrics). */
  get pending(): number {
    return this.waiters.reduce((n, w) => n + (w.last - w.first + 1), 0);
  }

  /**
   * Appends one batch (each event as one line of JSON text) to the log and queues it for the job;
   * resolves once a checkpoint has committed the whole batch.
   */
  ingest(texts: string[]): Promise<IngestResult> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.stopping) {
      return Promise.reject(new AsofError('usage', 'the server is shutting down; retry on another instance'));
    }
    if (this.pending + texts.length > (this.opts.maxQueued ?? 200_000)) {
      return Promise.reject(new AsofError('usage', 'ingest queue full; retry later'));
    }
    if (this.segmentLines >= (this.opts.segmentEvents ?? 100_000)) {
      this.segmentStart = this.next;
      this.segmentLines = 0;
    }
    const file = this.file(this.segmentStart);
    const body = `${texts.join('\n')}\n`;
    if (this.opts.fsync) {
      const fd = openSync(file, 'a');
      try {
        appendFileSync(fd, body);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } else {
      appendFileSync(file, body);
    }
    const first = this.next;
    this.next += texts.length;
    this.segmentLines += texts.length;
    const now = performance.now();
    for (let i = 0; i < texts.length; i++) {
      this.queue.push({ seq: first + i, text: texts[i] as string, received: now });
    }
    this.wake?.();
    return new Promise((resolve, reject) => {
      this.waiters.push({
        first,
        last: first + texts.length - 1,
        result: {
          received: texts.length,
          accepted: 0,
          late: 0,
          dead: 0,
          rejected: [],
          offsets: [first, first + texts.length - 1],
        },
        resolve,
        reject,
      });
    });
  }

  async *batches(from: number): AsyncIterable<SourceRecord[]> {
    const replayEnd = this.next;
    // first what the log holds from `from` on (a restart's replay), then what requests bring
    if (from < replayEnd) {
      const segs = this.segments();
      if (segs.length === 0 || (segs[0] as number) > from) {
        throw new AsofError(
          'usage',
          `the ingest log ${this.dir} no longer holds offset ${from} that the checkpoint needs`,
          { file: this.dir },
        );
      }
      for (const [i, start] of segs.entries()) {
        const end = segs[i + 1] ?? replayEnd;
        if (end <= from) continue;
        const lines = readFileSync(this.file(start), 'utf8').split('\n');
        const now = performance.now();
        let out: SourceRecord[] = [];
        for (let k = 0; k < lines.length && start + k < replayEnd; k++) {
          const seq = start + k;
          if (seq < from || (k === lines.length - 1 && lines[k] === '')) continue;
          out.push({ seq, text: lines[k] as string, received: now });
          if (out.length >= 5000) {
            yield out;
            out = [];
          }
        }
        if (out.length > 0) yield out;
      }
    }
    for (;;) {
      if (this.queue.length > 0) {
        const out = this.queue.filter((r) => r.seq >= replayEnd && r.seq >= from);
        this.queue = [];
        if (out.length > 0) yield out;
        continue;
      }
      if (this.stopping) return;
      // while answers wait, come back soon so that the job checkpoints on time
      const ms = this.waiters.length > 0 ? 2 : 1000;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      this.wake = null;
      if (this.queue.length === 0) yield [];
    }
  }

  outcome(seq: number, kind: 'accepted' | 'late' | 'dead', reason?: string): void {
    const w = this.waiters.find((x) => seq >= x.first && seq <= x.last);
    if (!w) return;
    w.result[kind]++;
    if (kind !== 'accepted')
      w.result.rejected.push({ index: seq - w.first, outcome: kind, reason: reason ?? '' });
  }

  committed(nextSeq: number): void {
    while (this.waiters.length > 0 && (this.waiters[0] as Waiter).last < nextSeq) {
      const w = this.waiters.shift() as Waiter;
      w.resolve(w.result);
    }
  }

  /** The offline checkpoint has passed `upTo`: a segment entirely before it is never replayed again. */
  async ack(upTo: number): Promise<void> {
    const segs = this.segments();
    for (const [i, start] of segs.entries()) {
      const end = segs[i + 1];
      if (end === undefined || end > upTo) break;
      rmSync(this.file(start), { force: true });
    }
  }

  /** Ends the job's input once the queued events are handed over (graceful shutdown). */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** The job failed: every waiting request gets the error (its events stay in the log for a restart). */
  fail(e: Error): void {
    this.failed = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  async close(): Promise<void> {
    this.stop();
  }

  /** Bytes in the log (for metrics). */
  logBytes(): number {
    return this.segments().reduce((n, s) => {
      const f = this.file(s);
      return n + (existsSync(f) ? statSync(f).size : 0);
    }, 0);
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
