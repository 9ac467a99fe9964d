// The stream job's offline staging: each accepted event's record printed straight into a reusable
// byte buffer per event date, written to that date's staging file of the current generation when the
// buffer fills and when a micro-batch is cut. No string nor large allocation per event or per flush.

import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { OfflineRecordPrinter, type RecordRow } from '../engines/duckdb/events-writer.js';
import type { Source } from '../spec/project.js';

/** One event date's records of the current generation: those in `buf` and the file holding the rest. */
interface DateSlot {
  date: string;
  buf: Buffer;
  /** Bytes of `buf` in use. */
  pos: number;
  /** The staging file, open once something was written to it this time the date has a slot; -1 before. */
  fd: number;
  file: string;
}

/** The staging files of one cut generation, per event date (sorted), for its micro-batch to read. */
export interface StagedGeneration {
  generation: number;
  files: { date: string; file: string }[];
}

/** Bytes buffered per event date: few dates are open at once (events come about in time order). */
const BUFFER_BYTES = 1 << 18;
/**
 * Dates with a buffer and an open file at once; a batch spanning more (a replay of sparse history)
 * flushes and closes the least recently used one, so memory and open files stay bounded.
 */
const OPEN_DATES = 8;
/** Buffers kept for the next dates. */
const SPARE_BUFFERS = 4;

/**
 * Staging files of one generation per micro-batch (`<date>.<generation>.csv` in `dir`): a batch
 * being written reads its own files while newer events go to the next generation's. Only a run's
 * own replay fills them: the job empties `dir` at start, so a killed run's files are never read.
 */
export class OfflineStaging {
  private readonly printer: OfflineRecordPrinter;
  private generation = 0;
  /** The dates with a slot, least recently used first. */
  private slots = new Map<string, DateSlot>();
  /** The slot of the last record's date (consecutive events mostly share a date). */
  private last: DateSlot | null = null;
  private readonly spare: Buffer[] = [];
  /** The staging files of this generation written to so far, by date. */
  private written = new Map<string, string>();

  constructor(
    private readonly dir: string,
    source: Source,
    private readonly bufferBytes = BUFFER_BYTES,
  ) {
    this.printer = new OfflineRecordPrinter(source);
  }

  /** Stages one accepted event (see OfflineRecordPrinter for `text`, `at` and `end`). */
  add(date: string, seq: number, row: RecordRow, text?: string, at?: Int32Array, end?: Int32Array): void {
    let s = this.last;
    if (s === null || s.date !== date) {
      s = this.slotOf(date);
      this.last = s;
    }
    let e = this.printer.print(s.buf, s.pos, seq, row, text, at, end);
    if (e < 0) {
      this.flush(s);
      e = this.printer.print(s.buf, 0, seq, row, text, at, end);
      // a record larger than the whole buffer (a long text value): a larger buffer for this date
      while (e < 0) {
        s.buf = Buffer.allocUnsafeSlow(s.buf.length * 2);
        e = this.printer.print(s.buf, 0, seq, row, text, at, end);
      }
    }
    s.pos = e;
  }

  /**
   * Completes the current generation's files (written and closed) and starts the next one; the
   * returned files hold every event staged since the previous cut.
   */
  cut(): StagedGeneration {
    for (const s of this.slots.values()) this.release(s);
    const files = [...this.written]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([date, file]) => ({ date, file }));
    const g = this.generation;
    this.generation++;
    this.slots = new Map();
    this.written = new Map();
    this.last = null;
    return { generation: g, files };
  }

  /** Closes the open staging files (a run ending on an error; their records are never read). */
  close(): void {
    for (const s of this.slots.values()) {
      if (s.fd >= 0) closeSync(s.fd);
      s.fd = -1;
    }
    this.slots = new Map();
    this.last = null;
  }

  /** The date's slot, made the most recently used one. */
  private slotOf(date: string): DateSlot {
    const s = this.slots.get(date);
    if (s === undefined) return this.openSlot(date);
    this.slots.delete(date);
    this.slots.set(date, s);
    return s;
  }

  private openSlot(date: string): DateSlot {
    if (this.slots.size >= OPEN_DATES) {
      const [oldest, o] = this.slots.entries().next().value as [string, DateSlot];
      this.release(o);
      this.slots.delete(oldest);
    }
    const s: DateSlot = {
      date,
      buf: this.spare.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes),
      pos: 0,
      fd: -1,
      file: path.join(this.dir, `${date}.${this.generation}.csv`),
    };
    this.slots.set(date, s);
    return s;
  }

  /** Writes out and closes a date's slot, keeping its buffer for another date. */
  private release(s: DateSlot): void {
    this.flush(s);
    if (s.fd >= 0) closeSync(s.fd);
    s.fd = -1;
    if (s.buf.length === this.bufferBytes && this.spare.length < SPARE_BUFFERS) this.spare.push(s.buf);
  }

  private flush(s: DateSlot): void {
    if (s.pos === 0) return;
    if (s.fd < 0) {
      // appended to: the date's slot may have been released earlier in this generation
      s.fd = openSync(s.file, 'a');
      this.written.set(s.date, s.file);
    }
    let done = 0;
    while (done < s.pos) done += writeSync(s.fd, s.buf, done, s.pos - done);
    s.pos = 0;
  }
}
