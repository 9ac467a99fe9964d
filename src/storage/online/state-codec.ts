// The embedded store's binary form of one entity's streaming state: the same EntityState as its
// JSON text, in about half the bytes and without printing and parsing numbers (the checkpoint's hot
// path rewrites every state an event touched). Rows written as JSON text by older versions still decode.

import type { Value } from '../../expr/evaluate.js';
import type { EntityState, TailEntry } from '../../stream/state.js';

const FORMAT = 1;
// value tags; REF repeats an earlier value of the same entry (features over one column share it)
const NULL = 0;
const TRUE = 1;
const FALSE = 2;
const F64 = 3;
const I32 = 4;
const STR = 5;
const REF = 6;

let scratch = Buffer.allocUnsafe(1 << 16);
let view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);

function ensure(pos: number, more: number): void {
  if (pos + more <= scratch.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, pos + more));
  scratch.copy(bigger, 0, 0, pos);
  scratch = bigger;
  view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
}

/**
 * The bytes of a state. The result is a view on a shared buffer, valid until the next call: bind
 * it at once (SQLite copies a bound blob). A view of more than 253 features keeps the JSON text.
 */
export function encodeState(s: EntityState): Buffer | string {
  for (const e of s.tail) if (e.length > 255) return JSON.stringify(s);
  ensure(0, 64);
  let p = 0;
  scratch[p++] = FORMAT;
  view.setFloat64(p, s.seq, true);
  view.setFloat64(p + 8, s.first ?? Number.NaN, true);
  p += 16;
  if (s.head === null) {
    view.setUint32(p, 0, true);
    p += 4;
  } else {
    const head = Buffer.from(JSON.stringify(s.head));
    ensure(p, head.length + 4);
    view.setUint32(p, head.length + 1, true);
    p += 4;
    p += head.copy(scratch, p);
  }
  ensure(p, 4);
  view.setUint32(p, s.tail.length, true);
  p += 4;
  for (const e of s.tail) p = writeEntry(e, p);
  return scratch.subarray(0, p);
}

/** The state of a stored row: binary (encodeState) or the JSON text of earlier versions. */
export function decodeState(stored: Buffer | Uint8Array | string): EntityState {
  if (typeof stored === 'string') return JSON.parse(stored) as EntityState;
  const b = asBuffer(stored);
  if (b[0] !== FORMAT) throw new Error(`online state format ${b[0]} is not known to this version of asof`);
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
  const n = b.readUInt32LE(p);
  p += 4;
  const tail: TailEntry[] = new Array(n);
  for (let k = 0; k < n; k++) {
    tail[k] = readEntry(b, p);
    p = readEnd;
  }
  return { tail, head, first: Number.isNaN(firstRaw) ? null : firstRaw, seq };
}

/** Writes one tail entry at `p` in the scratch buffer; returns the position after it. */
function writeEntry(e: TailEntry, at: number): number {
  let p = at;
  const len = e.length;
  ensure(p, 17 + 9 * len);
  scratch[p++] = len;
  view.setFloat64(p, e[0], true);
  view.setFloat64(p + 8, e[1], true);
  p += 16;
  for (let i = 2; i < len; i++) {
    const v = e[i] as Value;
    let ref = -1;
    if (typeof v === 'number' || typeof v === 'string') {
      for (let j = 2; j < i; j++) {
        if (e[j] === v && (v !== 0 || Object.is(e[j], v))) {
          ref = j;
          break;
        }
      }
    }
    if (ref >= 0) {
      scratch[p++] = REF;
      scratch[p++] = ref;
    } else if (v === null || v === undefined) scratch[p++] = NULL;
    else if (v === true) scratch[p++] = TRUE;
    else if (v === false) scratch[p++] = FALSE;
    else if (typeof v === 'number') {
      if ((v | 0) === v && !Object.is(v, -0)) {
        scratch[p++] = I32;
        view.setInt32(p, v, true);
        p += 4;
      } else {
        scratch[p++] = F64;
        view.setFloat64(p, v, true);
        p += 8;
      }
    } else {
      const n = Buffer.byteLength(v);
      ensure(p, n + 5 + 9 * (len - i));
      scratch[p++] = STR;
      view.setUint32(p, n, true);
      p += 4;
      p += scratch.write(v, p);
    }
  }
  return p;
}

/** The bytes of one tail entry (a view on the shared buffer, as encodeState); null if too wide. */
export function encodeEntry(e: TailEntry): Buffer | null {
  if (e.length > 255) return null;
  return scratch.subarray(0, writeEntry(e, 0));
}

/** The position after the entry readEntry read last (a module variable: no pair per entry). */
let readEnd = 0;

/**
 * Reads one tail entry at `p` (the position after it in readEnd). The array is made at its final
 * length: pushing onto a two-element literal would grow its backing store to 19 slots per entry.
 */
function readEntry(b: Buffer, at: number): TailEntry {
  let p = at;
  const len = b[p++] as number;
  const e = new Array(len) as TailEntry;
  e[0] = b.readDoubleLE(p);
  e[1] = b.readDoubleLE(p + 8);
  p += 16;
  for (let i = 2; i < len; i++) {
    const tag = b[p++];
    if (tag === REF) e[i] = e[b[p++] as number] as Value;
    else if (tag === NULL) e[i] = null;
    else if (tag === TRUE) e[i] = true;
    else if (tag === FALSE) e[i] = false;
    else if (tag === I32) {
      e[i] = b.readInt32LE(p);
      p += 4;
    } else if (tag === F64) {
      e[i] = b.readDoubleLE(p);
      p += 8;
    } else if (tag === STR) {
      const m = b.readUInt32LE(p);
      e[i] = b.toString('utf8', p + 4, p + 4 + m);
      p += 4 + m;
    } else throw new Error(`online state: unknown value tag ${tag}`);
  }
  readEnd = p;
  return e;
}

/** One tail entry stored by encodeEntry. */
export function decodeEntry(stored: Buffer | Uint8Array): TailEntry {
  return readEntry(asBuffer(stored), 0);
}

function asBuffer(stored: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
}

/**
 * Several tail entries as one payload (a count, then the entries), for the embedded store's
 * checkpoint log; a view on the shared buffer as encodeState. Null if an entry is too wide.
 */
export function encodeEntries(entries: readonly TailEntry[]): Buffer | null {
  ensure(0, 4);
  view.setUint32(0, entries.length, true);
  let p = 4;
  for (const e of entries) {
    if (e.length > 255) return null;
    p = writeEntry(e, p);
  }
  return scratch.subarray(0, p);
}

/** The entries of an encodeEntries payload stored at [start, ...) of `b`. */
export function decodeEntries(b: Buffer, start: number): TailEntry[] {
  const n = b.readUInt32LE(start);
  let p = start + 4;
  const out: TailEntry[] = new Array(n);
  for (let k = 0; k < n; k++) {
    out[k] = readEntry(b, p);
    p = readEnd;
  }
  return out;
}
