// `primary_key` deduplication in the stream, as batch does it (engines/duckdb/sources.ts: among
// valid rows, the last by input order wins): a later event with the same key takes the earlier
// one's place in every view, even under another entity. Exact while the earlier event is in the
// states' tails, i.e. not older than the compaction horizon; an earlier event already compacted
// stays (declared in the README). The index is saved with the states, in the same commit.

import type { Row } from '../expr/evaluate.js';
import type { DirtyState } from '../storage/online/sqlite.js';
import type { Instant } from '../time/index.js';
import type { EntityState, TailEntry } from './state.js';

/** Where the last event of a primary key went: its sequence, instant and entity key per view. */
export interface PkEntry {
  seq: number;
  ts: Instant;
  /** Per view (in job order), the entity key it was applied to, or null. */
  keys: (string | null)[];
}

/** The pseudo-view under which a source's index is stored beside the entity states. */
export function dedupeView(source: string): string {
  return `__pk:${source}`;
}

/** A bucket whose slot was forgotten. */
const TOMB = -1;

/** A table size for `n` live slots: a power of two, at most a quarter full. */
function tableSizeFor(n: number): number {
  let size = 2048;
  while (size < n * 4) size *= 2;
  return size;
}

/** 32-bit FNV-1a over a string's UTF-16 code units (no encoding, no allocation). */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

/**
 * The index holds one entry per primary key seen since the horizon: a million of them in the
 * benchmark. As a Map of strings to objects, each entry was a key string, an object and an array
 * that all survived into V8's old generation, and garbage collection was a quarter of the job's
 * time. Here an entry is a slot of typed arrays (sequence, instant, hash) and a record in a UTF-16
 * arena (the primary key's text, then each view's entity key), found through an open-addressing
 * table of slot numbers: no object per entry. Keys are compared exactly (the hash only picks the
 * bucket), so a hash collision costs a comparison, never a wrong answer.
 */
export class PrimaryKeyIndex {
  /** Events before this instant may be compacted in some view: they can no longer be taken back. */
  horizon = Number.NEGATIVE_INFINITY;

  private slots = 0;
  private seqs = new Float64Array(1024);
  private tss = new Float64Array(1024);
  private hashes = new Int32Array(1024);
  /** Where each slot's record starts in the arena (-1: the slot was forgotten). */
  private offs = new Int32Array(1024);
  /** A record: pk length (2 units), pk text, view count, then per view a length + 1 (2 units; 0 = null) and the key. */
  private arena = new Uint16Array(1 << 16);
  private arenaUsed = 0;
  /** Units of the arena held by records that later ones replaced. */
  private garbage = 0;
  /** Slot + 1 per bucket (0: empty); a power-of-two size, at most half full. */
  private table = new Int32Array(2048);
  private live = 0;
  /** Forgotten slots not yet compacted away, and the buckets in use (live slots and tombstones). */
  private dead = 0;
  private filled = 0;
  private dirtyFlag = new Uint8Array(1024);
  private dirtySlots: number[] = [];
  /** At or before the earliest instant held: the entries are scanned only once the horizon passes it. */
  private oldest = Number.POSITIVE_INFINITY;

  /** `saved`: the index as stored (see toState). */
  constructor(
    private readonly source: string,
    private readonly primaryKey: string[],
    saved: Map<string, EntityState>,
  ) {
    for (const [pk, st] of saved) {
      const e = st.tail[0];
      if (e) this.put(pk, st.seq, e[0], e.slice(2) as (string | null)[], false);
    }
  }

  /** The primary key of a row; NULLs are a value, as in batch's PARTITION BY. */
  keyOf(row: Row): string {
    if (this.primaryKey.length === 1) return JSON.stringify(row[this.primaryKey[0] as string] ?? null);
    return JSON.stringify(this.primaryKey.map((k) => row[k] ?? null));
  }

  /** The slot holding `pk`, or -1. */
  private find(pk: string, h: number): number {
    const mask = this.table.length - 1;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const t = this.table[b] as number;
      if (t === 0) return -1;
      if (t === TOMB) continue;
      const s = t - 1;
      if (this.hashes[s] === h && this.sameKey(s, pk)) return s;
    }
  }

  private sameKey(slot: number, pk: string): boolean {
    const a = this.arena;
    let p = this.offs[slot] as number;
    const n = ((a[p] as number) << 16) | (a[p + 1] as number);
    if (n !== pk.length) return false;
    p += 2;
    for (let i = 0; i < n; i++) if (a[p + i] !== pk.charCodeAt(i)) return false;
    return true;
  }

  /** The last key looked up and its slot: the job asks previous, beyondHorizon and set of one key in a row. */
  private lastPk: string | undefined;
  private lastSlot = -1;

  private slotOf(pk: string): number {
    if (pk !== this.lastPk) {
      this.lastSlot = this.find(pk, hashOf(pk));
      this.lastPk = pk;
    }
    return this.lastSlot;
  }

  /** The earlier event of this key still inside the horizon (so that it can be taken back). */
  previous(pk: string): PkEntry | undefined {
    const s = this.slotOf(pk);
    return s >= 0 && (this.tss[s] as number) >= this.horizon ? this.entryOf(s) : undefined;
  }

  /** Whether an earlier event of this key exists but is beyond the horizon (it stays applied). */
  beyondHorizon(pk: string): boolean {
    const s = this.slotOf(pk);
    return s >= 0 && (this.tss[s] as number) < this.horizon;
  }

  set(pk: string, entry: PkEntry): void {
    this.put(pk, entry.seq, entry.ts, entry.keys, true);
  }

  private put(pk: string, seq: number, ts: Instant, keys: readonly (string | null)[], dirty: boolean): void {
    const h = hashOf(pk);
    let s = pk === this.lastPk ? this.lastSlot : this.find(pk, h);
    this.lastPk = undefined;
    if (s >= 0) {
      // the slot's earlier record stays in the arena as garbage until a compaction
      this.garbage += recordLength(this.arena, this.offs[s] as number);
      this.offs[s] = this.writeRecord(pk, keys);
    } else {
      if (this.slots === this.seqs.length) this.growSlots();
      s = this.slots++;
      this.hashes[s] = h;
      this.offs[s] = this.writeRecord(pk, keys);
      this.live++;
      if ((this.filled + 1) * 2 > this.table.length) this.rehash(tableSizeFor(this.live));
      else this.insertBucket(s, h);
    }
    this.seqs[s] = seq;
    this.tss[s] = ts;
    if (dirty && this.dirtyFlag[s] === 0) {
      this.dirtyFlag[s] = 1;
      this.dirtySlots.push(s);
    }
    if (ts < this.oldest) this.oldest = ts;
  }

  private insertBucket(slot: number, h: number): void {
    const mask = this.table.length - 1;
    let b = h & mask;
    while (this.table[b] !== 0) b = (b + 1) & mask;
    this.table[b] = slot + 1;
    this.filled++;
  }

  private rehash(size: number): void {
    this.table = new Int32Array(size);
    this.filled = 0;
    for (let s = 0; s < this.slots; s++)
      if ((this.offs[s] as number) >= 0) this.insertBucket(s, this.hashes[s] as number);
  }

  private growSlots(): void {
    const n = this.seqs.length * 2;
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.seqs = grow(this.seqs, (k) => new Float64Array(k));
    this.tss = grow(this.tss, (k) => new Float64Array(k));
    this.hashes = grow(this.hashes, (k) => new Int32Array(k));
    this.offs = grow(this.offs, (k) => new Int32Array(k));
    this.dirtyFlag = grow(this.dirtyFlag, (k) => new Uint8Array(k));
  }

  /** Appends a record to the arena; returns its offset. */
  private writeRecord(pk: string, keys: readonly (string | null)[]): number {
    let need = 3 + pk.length;
    for (const k of keys) need += 2 + (k === null ? 0 : k.length);
    if (this.arenaUsed + need > this.arena.length) {
      const b = new Uint16Array(Math.max(this.arena.length * 2, this.arenaUsed + need));
      b.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = b;
    }
    const a = this.arena;
    const at = this.arenaUsed;
    let p = at;
    p = writeText(a, p, pk);
    a[p++] = keys.length;
    for (const k of keys) {
      if (k === null) {
        a[p++] = 0;
        a[p++] = 0;
      } else p = writeText(a, p, k, 1);
    }
    this.arenaUsed = p;
    return at;
  }

  /** The entry of a slot (objects made only here: for a repeated key, or a checkpoint). */
  private entryOf(slot: number): PkEntry {
    return { seq: this.seqs[slot] as number, ts: this.tss[slot] as number, keys: this.recordOf(slot).keys };
  }

  private recordOf(slot: number): { pk: string; keys: (string | null)[] } {
    const a = this.arena;
    const [pk, start] = readText(a, this.offs[slot] as number, 0);
    let p = start;
    const n = a[p++] as number;
    const keys: (string | null)[] = [];
    for (let i = 0; i < n; i++) {
      if (a[p] === 0 && a[p + 1] === 0) {
        keys.push(null);
        p += 2;
        continue;
      }
      let k: string;
      [k, p] = readText(a, p, 1);
      keys.push(k);
    }
    return { pk, keys };
  }

  /** Moves the horizon and forgets (in memory) what lies before it. */
  advance(horizon: Instant): void {
    if (horizon <= this.horizon) return;
    this.horizon = horizon;
    // a scan of every entry at each checkpoint cost O(index) per checkpoint: skip it while nothing is old enough
    if (horizon <= this.oldest) return;
    // in a long stream the horizon passes the oldest entries at nearly every checkpoint: a pass
    // over the typed arrays, forgotten slots leave a tombstone, and compaction waits until most are dead
    this.lastPk = undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (let s = 0; s < this.slots; s++) {
      const off = this.offs[s] as number;
      if (off < 0) continue;
      const ts = this.tss[s] as number;
      if (ts < horizon && this.dirtyFlag[s] === 0) this.kill(s, off);
      else if (ts < oldest) oldest = ts;
    }
    this.oldest = oldest;
    if (this.dead > this.live && this.dead >= 4096) this.compact();
  }

  /** Forgets a slot: a tombstone in its bucket (probes go on past it), its record becomes garbage. */
  private kill(slot: number, off: number): void {
    const mask = this.table.length - 1;
    let b = (this.hashes[slot] as number) & mask;
    while (this.table[b] !== slot + 1) b = (b + 1) & mask;
    this.table[b] = TOMB;
    this.offs[slot] = -1;
    this.garbage += recordLength(this.arena, off);
    this.live--;
    this.dead++;
  }

  /** Renumbers the live slots densely, rewrites their records into a fresh arena and rebuilds the table. */
  private compact(): void {
    this.lastPk = undefined;
    const old = this.arena;
    const records: [number, number][] = [];
    let used = 0;
    let n = 0;
    for (let s = 0; s < this.slots; s++) {
      const off = this.offs[s] as number;
      if (off < 0) continue;
      const len = recordLength(old, off);
      records.push([off, len]);
      this.seqs[n] = this.seqs[s] as number;
      this.tss[n] = this.tss[s] as number;
      this.hashes[n] = this.hashes[s] as number;
      this.dirtyFlag[n] = this.dirtyFlag[s] as number;
      this.offs[n] = used;
      used += len;
      n++;
    }
    const arena = new Uint16Array(Math.max(1 << 16, used * 2));
    let p = 0;
    for (const [off, len] of records) {
      arena.set(old.subarray(off, off + len), p);
      p += len;
    }
    this.arena = arena;
    this.arenaUsed = used;
    this.garbage = 0;
    this.dirtyFlag.fill(0, n, this.slots);
    this.slots = n;
    this.live = n;
    this.dead = 0;
    this.dirtySlots = [];
    for (let s = 0; s < n; s++) if (this.dirtyFlag[s] === 1) this.dirtySlots.push(s);
    this.rehash(tableSizeFor(n));
  }

  /** The changed entries, as rows of the state table (written in the checkpoint's commit). */
  takeDirty(): DirtyState[] {
    const out: DirtyState[] = [];
    for (const s of this.dirtySlots) {
      this.dirtyFlag[s] = 0;
      const { pk, keys } = this.recordOf(s);
      out.push({
        view: dedupeView(this.source),
        key: pk,
        state: toState(this.seqs[s] as number, this.tss[s] as number, keys),
      });
    }
    this.dirtySlots = [];
    // records replaced by later ones are garbage in the arena: compact once they are most of it
    if (this.arenaUsed > 1 << 20 && this.garbage * 2 > this.arenaUsed) this.compact();
    return out;
  }
}

/** Writes a string's length (`bias` added, in two units) and its UTF-16 code units at `p`. */
function writeText(a: Uint16Array, at: number, s: string, bias = 0): number {
  let p = at;
  const n = s.length + bias;
  a[p++] = n >>> 16;
  a[p++] = n & 0xffff;
  for (let i = 0; i < s.length; i++) a[p++] = s.charCodeAt(i);
  return p;
}

function readText(a: Uint16Array, at: number, bias: number): [string, number] {
  const n = (((a[at] as number) << 16) | (a[at + 1] as number)) - bias;
  const from = at + 2;
  let s = '';
  // in pieces: String.fromCharCode takes its units as arguments
  for (let i = 0; i < n; i += 4096) {
    const units = a.subarray(from + i, from + Math.min(n, i + 4096)) as unknown as number[];
    s += String.fromCharCode.apply(null, units);
  }
  return [s, from + n];
}

/** The length in units of the record at `off`. */
function recordLength(a: Uint16Array, off: number): number {
  let p = off;
  p += 2 + (((a[p] as number) << 16) | (a[p + 1] as number));
  const n = a[p++] as number;
  for (let i = 0; i < n; i++) {
    const len = ((a[p] as number) << 16) | (a[p + 1] as number);
    p += 2 + (len === 0 ? 0 : len - 1);
  }
  return p - off;
}

/**
 * An index entry in the shape of an entity state (one tail entry: instant, sequence, the entity
 * keys), so that every store saves it as it saves states, in the same commit.
 */
function toState(seq: number, ts: Instant, keys: (string | null)[]): EntityState {
  return { tail: [[ts, seq, ...keys]], head: null, first: ts, seq };
}

/** Takes the event of sequence `seq` out of a state's tail; false when it is not there. */
export function removeEntry(state: EntityState, seq: number): boolean {
  const i = state.tail.findIndex((e: TailEntry) => e[1] === seq);
  if (i < 0) return false;
  state.tail.splice(i, 1);
  // a new first entry (by identity) tells an incremental store writer that entries were taken
  // out, not only appended, so that it rewrites the whole state (storage/online/sqlite.ts)
  const first = state.tail[0];
  if (first) state.tail[0] = [...first];
  // the population starts at the earliest applied event still held
  if (state.head === null) state.first = state.tail.length > 0 ? (state.tail[0] as TailEntry)[0] : null;
  return true;
}
