// The embedded store's binary form of one entity's streaming state: the same EntityState as its
// JSON text, in about half the bytes and without printing and parsing numbers (the checkpoint's hot
// path writes every state an event touched). Rows of earlier versions (format 1: one array per
// event, JSON text) still decode, into their own width (ViewRuntime.adapt puts them in the view's).

import type { Value } from '../../expr/evaluate.js';
import type { EntityState } from '../../stream/state.js';

/** Format 2: a flat tail (EntityState.width values per event). Format 1: an array per event. */
const FORMAT = 2;
const FORMAT_ENTRIES = 1;
// value tags; REF (format 1 only) repeats an earlier value of the same event
const NULL = 0;
const TRUE = 1;
const FALSE = 2;
const F64 = 3;
const I32 = 4;
const STR = 5;
const REF = 6;
/** The widest event the binary form holds (a byte); wider states keep the JSON text. */
const MAX_WIDTH = 255;

/** A growable byte buffer written at `pos` (reused from call to call: no buffer per encode). */
export class ByteWriter {
  buf = Buffer.allocUnsafe(1 << 16);
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  pos = 0;

  /** Room for `more` bytes at `pos`. */
  ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + more));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
    this.view = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
  }

  /** The bytes written (a view on the buffer: valid until the next write). */
  take(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** The writer of encodeState and encodeEvents. */
const scratch = new ByteWriter();

/** The JSON text of a state (its `taken` count is the process's own, not stored); decodeState reads it. */
export function stateJson(s: EntityState): string {
  return JSON.stringify({ tail: s.tail, width: s.width, head: s.head, first: s.first, seq: s.seq });
}

/**
 * The bytes of a state. The result is a view on a shared buffer, valid until the next call: bind
 * it at once (SQLite copies a bound blob). A state of more than 253 columns keeps the JSON text.
 */
export function encodeState(s: EntityState): Buffer | string {
  if (s.width > MAX_WIDTH) return stateJson(s);
  const w = scratch;
  w.pos = 0;
  w.ensure(64);
  w.buf[0] = FORMAT;
  w.view.setFloat64(1, s.seq, true);
  w.view.setFloat64(9, s.first ?? Number.NaN, true);
  w.pos = 17;
  if (s.head === null) {
    w.view.setUint32(w.pos, 0, true);
    w.pos += 4;
  } else {
    const head = Buffer.from(JSON.stringify(s.head));
    w.ensure(head.length + 4);
    w.view.setUint32(w.pos, head.length + 1, true);
    w.pos += 4;
    w.pos += head.copy(w.buf, w.pos);
  }
  w.ensure(5);
  w.buf[w.pos] = s.width;
  w.view.setUint32(w.pos + 1, s.tail.length / s.width, true);
  w.pos += 5;
  for (let k = 0; k < s.tail.length; k += s.width) writeEvent(w, s.tail, k, s.width);
  return w.take();
}

/** The state of a stored row: binary (encodeState, or format 1) or JSON text. */
export function decodeState(stored: Buffer | Uint8Array | string): EntityState {
  if (typeof stored === 'string') return fromJson(JSON.parse(stored));
  const b = asBuffer(stored);
  const format = b[0];
  if (format !== FORMAT && format !== FORMAT_ENTRIES)
    throw new Error(`online state format ${format} is not known to this version of asof`);
  let p = 1;
  const seq = b.readDoubleLE(p);
  const firstRaw = b.readDoubleLE(p + 8);
  p += 16;
  const headLen = b.readUInt32LE(p);
  p += 4;
  let head: EntityState['head'] = null;
  if (headLen > 0) {
    head = JSON.parse(b.toString('utf8', p, p + headLen - 1));
    p += headLen - 1;
  }
  const first = Number.isNaN(firstRaw) ? null : firstRaw;
  if (format === FORMAT_ENTRIES) {
    const n = b.readUInt32LE(p);
    const tail: Value[] = [];
    const width = readEntries(b, p + 4, n, tail);
    return { tail, width, head, first, seq, taken: 0 };
  }
  const width = b[p] as number;
  const n = b.readUInt32LE(p + 1);
  const tail: Value[] = [];
  readEvents(b, p + 5, n, width, tail);
  return { tail, width, head, first, seq, taken: 0 };
}

/** A state parsed from JSON text: this version's (with `width`) or an earlier one's (entry arrays). */
function fromJson(o: {
  tail: unknown[];
  width?: number;
  head: EntityState['head'];
  first: number | null;
  seq: number;
}): EntityState {
  if (o.width !== undefined) return { ...(o as EntityState), taken: 0 };
  const entries = o.tail as Value[][];
  const width = entries[0]?.length ?? 2;
  const tail: Value[] = [];
  for (const e of entries) for (let j = 0; j < width; j++) tail.push(e[j] ?? null);
  return { tail, width, head: o.head, first: o.first, seq: o.seq, taken: 0 };
}

/** Writes the event at offset `k` of a flat tail: instant and sequence as doubles, then tagged values. */
function writeEvent(w: ByteWriter, tail: readonly Value[], k: number, width: number): void {
  w.ensure(16 + 9 * width);
  let b = w.buf;
  let dv = w.view;
  let p = w.pos;
  dv.setFloat64(p, tail[k] as number, true);
  dv.setFloat64(p + 8, tail[k + 1] as number, true);
  p += 16;
  for (let i = 2; i < width; i++) {
    const v = tail[k + i];
    if (typeof v === 'number') {
      if ((v | 0) === v && !Object.is(v, -0)) {
        b[p++] = I32;
        dv.setInt32(p, v, true);
        p += 4;
      } else {
        b[p++] = F64;
        dv.setFloat64(p, v, true);
        p += 8;
      }
    } else if (v === null || v === undefined) b[p++] = NULL;
    else if (v === true) b[p++] = TRUE;
    else if (v === false) b[p++] = FALSE;
    else {
      const s = v as string;
      const n = Buffer.byteLength(s);
      w.pos = p;
      w.ensure(n + 5 + 9 * (width - i));
      b = w.buf;
      dv = w.view;
      b[p++] = STR;
      dv.setUint32(p, n, true);
      p += 4;
      p += b.write(s, p);
    }
  }
  w.pos = p;
}

/** Appends `n` events of `width` values stored at `at` of `b` to `out`. */
function readEvents(b: Buffer, at: number, n: number, width: number, out: Value[]): void {
  let p = at;
  for (let k = 0; k < n; k++) {
    out.push(b.readDoubleLE(p), b.readDoubleLE(p + 8));
    p += 16;
    for (let i = 2; i < width; i++) {
      const tag = b[p++];
      if (tag === F64) {
        out.push(b.readDoubleLE(p));
        p += 8;
      } else if (tag === I32) {
        out.push(b.readInt32LE(p));
        p += 4;
      } else if (tag === NULL) out.push(null);
      else if (tag === TRUE) out.push(true);
      else if (tag === FALSE) out.push(false);
      else if (tag === STR) {
        const m = b.readUInt32LE(p);
        out.push(b.toString('utf8', p + 4, p + 4 + m));
        p += 4 + m;
      } else throw new Error(`online state: unknown value tag ${tag}`);
    }
  }
}

/**
 * Appends `n` format-1 entries (a length byte each, REF tags) stored at `at` of `b` to `out`,
 * flat; returns their width (every entry of a state has the same).
 */
function readEntries(b: Buffer, at: number, n: number, out: Value[]): number {
  let p = at;
  let width = -1;
  for (let k = 0; k < n; k++) {
    const len = b[p++] as number;
    if (width < 0) width = len;
    else if (len !== width)
      throw new Error(`online state: events of ${width} and ${len} values in one state`);
    const base = out.length;
    out.push(b.readDoubleLE(p), b.readDoubleLE(p + 8));
    p += 16;
    for (let i = 2; i < len; i++) {
      const tag = b[p++];
      if (tag === REF) out.push(out[base + (b[p++] as number)] as Value);
      else if (tag === NULL) out.push(null);
      else if (tag === TRUE) out.push(true);
      else if (tag === FALSE) out.push(false);
      else if (tag === I32) {
        out.push(b.readInt32LE(p));
        p += 4;
      } else if (tag === F64) {
        out.push(b.readDoubleLE(p));
        p += 8;
      } else if (tag === STR) {
        const m = b.readUInt32LE(p);
        out.push(b.toString('utf8', p + 4, p + 4 + m));
        p += 4 + m;
      } else throw new Error(`online state: unknown value tag ${tag}`);
    }
  }
  return width < 0 ? 2 : width;
}

function asBuffer(stored: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
}

/** A run of events decoded from a log payload or an entry row: flat values, `width` per event. */
export interface Events {
  values: Value[];
  width: number;
}

/**
 * Appends some events of a flat tail as one payload (the width, a count, then the events: the
 * first `n` of `offsets`, in that order) to `w` (the store's log builder
 * writes it in place: no buffer per record). `width` is at most MAX_EVENT_WIDTH.
 */
export function writeEventsPayload(
  w: ByteWriter,
  tail: readonly Value[],
  width: number,
  offsets: readonly number[],
  n: number,
): void {
  w.ensure(5);
  w.buf[w.pos] = width;
  w.view.setUint32(w.pos + 1, n, true);
  w.pos += 5;
  for (let i = 0; i < n; i++) writeEvent(w, tail, offsets[i] as number, width);
}

/** The widest event the binary forms hold. */
export const MAX_EVENT_WIDTH = MAX_WIDTH;

/** The events of an encodeEvents payload stored at [start, ...) of `b`. */
export function decodeEvents(b: Buffer, start: number): Events {
  const width = b[start] as number;
  const values: Value[] = [];
  readEvents(b, start + 5, b.readUInt32LE(start + 1), width, values);
  return { values, width };
}

/** The entries of a format-1 log payload (a count, then entries) stored at [start, ...) of `b`. */
export function decodeEntries(b: Buffer, start: number): Events {
  const values: Value[] = [];
  const width = readEntries(b, start + 4, b.readUInt32LE(start), values);
  return { values, width };
}

/** One format-1 entry row (the `state_entry` table of earlier versions). */
export function decodeEntry(stored: Buffer | Uint8Array): Events {
  const values: Value[] = [];
  const width = readEntries(asBuffer(stored), 0, 1, values);
  return { values, width };
}
