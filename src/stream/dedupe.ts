// `primary_key` deduplication in the stream, as batch does it (engines/duckdb/sources.ts: among
// valid rows, the last by input order wins): a later event with the same key takes the earlier
// one's place in every view, even under another entity. Exact while the earlier event is in the
// states' tails, i.e. not older than the compaction horizon; an earlier event already compacted
// stays (declared in the README). The index is saved with the states, in the same commit.

import type { Row } from '../expr/evaluate.js';
import type { DirtyState } from '../storage/online/sqlite.js';
import type { Instant } from '../time/index.js';
import type { EntityState } from './state.js';

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

/** A table size for `n` slots in use: a power of two, at most a quarter full. */
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

/** Slots live in chunks of typed arrays: growing adds a chunk and copies nothing. */
const SLOT_BITS = 14;
const SLOT_CHUNK = 1 << SLOT_BITS;
const SLOT_MASK = SLOT_CHUNK - 1;
/** The arena is chunks of this many UTF-16 units; a longer record gets a chunk of its own. */
const ARENA_BITS = 16;
const ARENA_CHUNK = 1 << ARENA_BITS;
const ARENA_MASK = ARENA_CHUNK - 1;
/** A record's address is its chunk << ARENA_BITS | its position: a positive int32 (4 GB of text). */
const MAX_ARENA_CHUNKS = 1 << (31 - ARENA_BITS);
/**
 * A slot's `clean` mark while it changed since the last takeDirty is negative: -(1 + its place in
 * the dirty lists), where the index keeps the key's text and entity keys as `set` got them (a
 * checkpoint then writes them without reading them back from the arena).
 */
const dirtyMark = (j: number) => -1 - j;
/**
 * Work done a little at a time, so that no call pays for the whole index: per `set`, slots
 * checked for forgetting and arena units scanned for moving (besides 4 per unit written); per
 * checkpoint (takeDirty), more of both.
 */
const RECLAIM_PER_SET = 4;
const EVACUATE_PER_SET = 64;
const RECLAIM_PER_CHECKPOINT = 4096;
const EVACUATE_PER_CHECKPOINT = ARENA_CHUNK;

/**
 * The index holds one entry per primary key seen since the horizon: a million of them in the
 * benchmark. As a Map of strings to objects, each entry was a key string, an object and an array
 * that all survived into V8's old generation, and garbage collection was a quarter of the job's
 * time. Here an entry is a slot of typed arrays (sequence, instant, hash) and a record in a UTF-16
 * arena (the slot number, the primary key's text, then each view's entity key), found through an
 * open-addressing table of slot numbers: no object per entry. Keys are compared exactly (the hash
 * only picks the bucket), so a hash collision costs a comparison, never a wrong answer.
 *
 * No call does work in proportion to the whole index (a doubling used to stop the job for 50-100
 * ms at 262k keys): slot arrays and the arena grow by chunks; the table grows (or sheds its
 * tombstones) by incremental rehashing, the old table answering beside the new one until each
 * `set` has moved its share of buckets; entries past the horizon are forgotten at once in what
 * the index answers (a slot's `clean` mark against the count of advances) and reclaimed later by
 * a pass over the slots, a few per call; an arena chunk that is mostly garbage has its live
 * records moved out, a few per call, and is then released.
 */
export class PrimaryKeyIndex {
  /** Events before this instant may be compacted in some view: they can no longer be taken back. */
  horizon = Number.NEGATIVE_INFINITY;
  /**
   * Strict advances of the horizon so far. A slot is forgotten by the first advance past its
   * instant once it is clean (saved by a checkpoint), as a restart (which loads it clean) would.
   */
  private advances = 0;

  /** Slots handed out so far (free ones included), those in use, and the free ones. */
  private slotEnd = 0;
  private inUse = 0;
  private readonly freeSlots: number[] = [];
  private readonly seqC: Float64Array[] = [];
  private readonly tsC: Float64Array[] = [];
  private readonly hashC: Int32Array[] = [];
  /** Where each slot's record is in the arena (-1: the slot is free). */
  private readonly offC: Int32Array[] = [];
  /** A dirty mark (negative), or the count of advances when the slot was last saved (or loaded). */
  private readonly cleanC: Int32Array[] = [];
  private dirtySlots: number[] = [];
  /** Per dirty slot (same order), its key's text and entity keys as last set. */
  private dirtyPk: string[] = [];
  private dirtyKeys: (readonly (string | null)[])[] = [];

  /** Slot + 1 per bucket (0: empty); a power-of-two size, at most half full. */
  private table = new Int32Array(2048);
  /** Buckets of `table` in use (slots and tombstones). */
  private filled = 0;
  /** While rehashing: the previous table, how many of its buckets moved, and how many move per set. */
  private old: Int32Array | null = null;
  private migrated = 0;
  private migrateStep = 0;

  /** Arena chunks (null: released), their units written and garbage, and whether one is queued. */
  private readonly chunks: (Uint16Array | null)[] = [];
  private readonly chunkUsed: number[] = [];
  private readonly chunkGarbage: number[] = [];
  private readonly chunkQueued: number[] = [];
  private readonly freeChunks: number[] = [];
  /** The chunk being written (-1: none yet). */
  private cur = -1;
  /** Chunks mostly garbage, whose live records move to the current chunk; how far the first got. */
  private readonly evacuating: number[] = [];
  private evacuateAt = 0;

  /** A lower bound of the instants held: no pass over the slots while the horizon is not past it. */
  private oldest = Number.POSITIVE_INFINITY;
  /** The pass reclaiming forgotten slots: where it is (-1: none), the least instant it kept, whether to go again. */
  private reclaimAt = -1;
  private passOldest = Number.POSITIVE_INFINITY;
  private reclaimAgain = false;

  /** `saved`: the index as stored (see toState). */
  constructor(
    private readonly source: string,
    private readonly primaryKey: string[],
    saved: Map<string, EntityState>,
  ) {
    for (const [pk, st] of saved) {
      const t = st.tail;
      if (t.length >= 2)
        this.put(pk, st.seq, t[0] as number, t.slice(2, st.width) as (string | null)[], false);
    }
  }

  /** The primary key of a row; NULLs are a value, as in batch's PARTITION BY. */
  keyOf(row: Row): string {
    if (this.primaryKey.length === 1) {
      const v = row[this.primaryKey[0] as string];
      if (typeof v !== 'string') return JSON.stringify(v ?? null);
      // JSON.stringify's text (what the saved index holds), without its call for a string it
      // prints as itself in quotes: no quote, backslash, control character nor surrogate
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(v);
      }
      return `"${v}"`;
    }
    return JSON.stringify(this.primaryKey.map((k) => row[k] ?? null));
  }

  private tsOf(s: number): number {
    return (this.tsC[s >>> SLOT_BITS] as Float64Array)[s & SLOT_MASK] as number;
  }

  private offOf(s: number): number {
    return (this.offC[s >>> SLOT_BITS] as Int32Array)[s & SLOT_MASK] as number;
  }

  private hashAt(s: number): number {
    return (this.hashC[s >>> SLOT_BITS] as Int32Array)[s & SLOT_MASK] as number;
  }

  private cleanOf(s: number): number {
    return (this.cleanC[s >>> SLOT_BITS] as Int32Array)[s & SLOT_MASK] as number;
  }

  /** Forgotten: saved, then an advance of the horizon past its instant (not yet reclaimed). */
  private forgotten(s: number): boolean {
    const c = this.cleanOf(s);
    return c >= 0 && c < this.advances && this.tsOf(s) < this.horizon;
  }

  /** The slot holding `pk` (the new table first while one is rehashing), or -1. */
  private find(pk: string, h: number): number {
    const s = this.probe(this.table, pk, h);
    return s >= 0 || this.old === null ? s : this.probe(this.old, pk, h);
  }

  private probe(t: Int32Array, pk: string, h: number): number {
    const mask = t.length - 1;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const e = t[b] as number;
      if (e === 0) return -1;
      if (e === TOMB) continue;
      const s = e - 1;
      if (this.hashAt(s) === h && this.sameKey(s, pk)) return s;
    }
  }

  private sameKey(slot: number, pk: string): boolean {
    const off = this.offOf(slot);
    const a = this.chunks[off >>> ARENA_BITS] as Uint16Array;
    let p = (off & ARENA_MASK) + 2;
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
    // an entry at or after the horizon is never forgotten
    return s >= 0 && this.tsOf(s) >= this.horizon ? this.entryOf(s) : undefined;
  }

  /** Whether an earlier event of this key exists but is beyond the horizon (it stays applied). */
  beyondHorizon(pk: string): boolean {
    const s = this.slotOf(pk);
    return s >= 0 && this.tsOf(s) < this.horizon && !this.forgotten(s);
  }

  set(pk: string, entry: PkEntry): void {
    this.put(pk, entry.seq, entry.ts, entry.keys, true);
  }

  private put(pk: string, seq: number, ts: Instant, keys: readonly (string | null)[], dirty: boolean): void {
    const h = hashOf(pk);
    let s = pk === this.lastPk ? this.lastSlot : this.find(pk, h);
    this.lastPk = undefined;
    let written: number;
    if (s >= 0) {
      // a forgotten slot not yet reclaimed is taken as it is (same key, same bucket): as good as a new one
      const off = this.offOf(s);
      this.toGarbage(off, recordLength(this.chunks[off >>> ARENA_BITS] as Uint16Array, off & ARENA_MASK));
      written = this.writeRecord(s, pk, keys);
    } else {
      s = this.newSlot(h);
      written = this.writeRecord(s, pk, keys);
      this.insertBucket(this.table, s, h);
      this.filled++;
      if (this.filled * 2 > this.table.length) this.startRehash();
    }
    const c = s >>> SLOT_BITS;
    const i = s & SLOT_MASK;
    (this.seqC[c] as Float64Array)[i] = seq;
    (this.tsC[c] as Float64Array)[i] = ts;
    const clean = this.cleanC[c] as Int32Array;
    const mark = clean[i] as number;
    if (!dirty) clean[i] = this.advances;
    else if (mark >= 0) {
      clean[i] = dirtyMark(this.dirtySlots.length);
      this.dirtySlots.push(s);
      this.dirtyPk.push(pk);
      this.dirtyKeys.push(keys);
    } else this.dirtyKeys[-1 - mark] = keys;
    if (ts < this.oldest) this.oldest = ts;
    if (ts < this.passOldest) this.passOldest = ts;
    this.work(RECLAIM_PER_SET, EVACUATE_PER_SET + 4 * written, this.migrateStep);
  }

  /** A free slot, or a new one (in a new chunk of the slot arrays when the last is full). */
  private newSlot(h: number): number {
    let s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.slotEnd++;
      if (s >>> SLOT_BITS === this.seqC.length) {
        this.seqC.push(new Float64Array(SLOT_CHUNK));
        this.tsC.push(new Float64Array(SLOT_CHUNK));
        this.hashC.push(new Int32Array(SLOT_CHUNK));
        this.offC.push(new Int32Array(SLOT_CHUNK));
        this.cleanC.push(new Int32Array(SLOT_CHUNK));
      }
    }
    (this.hashC[s >>> SLOT_BITS] as Int32Array)[s & SLOT_MASK] = h;
    (this.cleanC[s >>> SLOT_BITS] as Int32Array)[s & SLOT_MASK] = 0;
    this.inUse++;
    return s;
  }

  private insertBucket(t: Int32Array, slot: number, h: number): void {
    const mask = t.length - 1;
    let b = h & mask;
    while (t[b] !== 0) b = (b + 1) & mask;
    t[b] = slot + 1;
  }

  /**
   * A new table for the slots in use; the old one answers beside it until its buckets have all
   * moved, `migrateStep` per set: enough that the move ends before the new table is half full
   * (it starts at most a quarter full and takes at most an eighth of its size in new keys).
   */
  private startRehash(): void {
    if (this.old) this.migrate(this.old.length);
    const size = tableSizeFor(this.inUse);
    this.old = this.table;
    this.table = new Int32Array(size);
    this.filled = 0;
    this.migrated = 0;
    this.migrateStep = Math.max(16, Math.ceil((8 * this.old.length) / size));
  }

  private migrate(n: number): void {
    const old = this.old as Int32Array;
    const end = Math.min(old.length, this.migrated + n);
    for (let b = this.migrated; b < end; b++) {
      const e = old[b] as number;
      if (e > 0) {
        this.insertBucket(this.table, e - 1, this.hashAt(e - 1));
        this.filled++;
      }
    }
    this.migrated = end;
    if (end === old.length) this.old = null;
  }

  /** A bounded share of the deferred work: reclaiming slots, moving arena records, rehashing. */
  private work(slots: number, units: number, buckets: number): void {
    if (this.reclaimAt >= 0) this.reclaim(slots);
    if (this.evacuating.length > 0) this.evacuate(units);
    if (this.old) this.migrate(buckets);
  }

  /** Appends a record (the slot, the pk, the entity keys) to the arena; returns its address. */
  private writeRecord(slot: number, pk: string, keys: readonly (string | null)[]): number {
    let need = 5 + pk.length;
    for (const k of keys) need += 2 + (k === null ? 0 : k.length);
    const at = this.alloc(need);
    const a = this.chunks[at >>> ARENA_BITS] as Uint16Array;
    let p = at & ARENA_MASK;
    a[p++] = slot >>> 16;
    a[p++] = slot & 0xffff;
    p = writeText(a, p, pk);
    a[p++] = keys.length;
    for (const k of keys) {
      if (k === null) {
        a[p++] = 0;
        a[p++] = 0;
      } else p = writeText(a, p, k, 1);
    }
    (this.offC[slot >>> SLOT_BITS] as Int32Array)[slot & SLOT_MASK] = at;
    return need;
  }

  /** Room for `need` units: in the current chunk, a new one, or (a long record) a chunk of its own. */
  private alloc(need: number): number {
    if (need > ARENA_CHUNK) {
      const c = this.newChunk(need);
      this.chunkUsed[c] = need;
      return c << ARENA_BITS;
    }
    if (this.cur < 0 || (this.chunkUsed[this.cur] as number) + need > ARENA_CHUNK) {
      const full = this.cur;
      this.cur = this.newChunk(ARENA_CHUNK);
      if (full >= 0) this.settle(full);
    }
    const c = this.cur;
    const pos = this.chunkUsed[c] as number;
    this.chunkUsed[c] = pos + need;
    return (c << ARENA_BITS) | pos;
  }

  private newChunk(units: number): number {
    const c = this.freeChunks.pop() ?? this.chunks.length;
    if (c >= MAX_ARENA_CHUNKS) throw new Error('primary-key index: more than 4 GB of key text');
    this.chunks[c] = new Uint16Array(units);
    this.chunkUsed[c] = 0;
    this.chunkGarbage[c] = 0;
    this.chunkQueued[c] = 0;
    return c;
  }

  /** A record replaced or forgotten: its units are garbage in its chunk. */
  private toGarbage(off: number, len: number): void {
    const c = off >>> ARENA_BITS;
    this.chunkGarbage[c] = (this.chunkGarbage[c] as number) + len;
    if (c !== this.cur && this.chunkQueued[c] === 0) this.settle(c);
  }

  /** A chunk not being written: released once all garbage, queued to move its live records once mostly garbage. */
  private settle(c: number): void {
    const used = this.chunkUsed[c] as number;
    const garbage = this.chunkGarbage[c] as number;
    if (garbage >= used) this.release(c);
    else if (garbage * 2 > used) {
      this.chunkQueued[c] = 1;
      this.evacuating.push(c);
    }
  }

  private release(c: number): void {
    this.chunks[c] = null;
    this.freeChunks.push(c);
  }

  /** Moves the live records of the queued chunks to the current one, scanning at most `budget` units. */
  private evacuate(budget: number): void {
    let left = budget;
    while (left > 0 && this.evacuating.length > 0) {
      const c = this.evacuating[0] as number;
      const a = this.chunks[c] as Uint16Array;
      const end = this.chunkUsed[c] as number;
      let p = this.evacuateAt;
      while (p < end && left > 0) {
        const len = recordLength(a, p);
        const slot = (((a[p] as number) << 16) | (a[p + 1] as number)) >>> 0;
        if (this.offOf(slot) === ((c << ARENA_BITS) | p)) {
          const to = this.alloc(len);
          (this.chunks[to >>> ARENA_BITS] as Uint16Array).set(a.subarray(p, p + len), to & ARENA_MASK);
          (this.offC[slot >>> SLOT_BITS] as Int32Array)[slot & SLOT_MASK] = to;
        }
        p += len;
        left -= len;
      }
      if (p < end) {
        this.evacuateAt = p;
        return;
      }
      this.evacuating.shift();
      this.evacuateAt = 0;
      this.release(c);
    }
  }

  /** The entry of a slot (objects made only here: for a repeated key, or a checkpoint). */
  private entryOf(slot: number): PkEntry {
    const c = slot >>> SLOT_BITS;
    const i = slot & SLOT_MASK;
    return {
      seq: (this.seqC[c] as Float64Array)[i] as number,
      ts: (this.tsC[c] as Float64Array)[i] as number,
      keys: this.recordOf(slot).keys,
    };
  }

  private recordOf(slot: number): { pk: string; keys: (string | null)[] } {
    const off = this.offOf(slot);
    const a = this.chunks[off >>> ARENA_BITS] as Uint16Array;
    const [pk, start] = readText(a, (off & ARENA_MASK) + 2, 0);
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

  /**
   * Moves the horizon. What it forgets is forgotten at once in the answers (see `forgotten`);
   * the slots are reclaimed by a pass that goes a few slots per call.
   */
  advance(horizon: Instant): void {
    if (horizon <= this.horizon) return;
    this.horizon = horizon;
    this.advances++;
    // nothing is old enough: no pass
    if (horizon <= this.oldest) return;
    if (this.reclaimAt >= 0) this.reclaimAgain = true;
    else this.startPass();
  }

  private startPass(): void {
    this.reclaimAt = 0;
    this.passOldest = Number.POSITIVE_INFINITY;
    this.reclaimAgain = false;
  }

  /** Checks up to `n` more slots of the pass and frees the forgotten ones. */
  private reclaim(n: number): void {
    let s = this.reclaimAt;
    const end = Math.min(this.slotEnd, s + n);
    for (; s < end; s++) {
      const off = this.offOf(s);
      if (off < 0) continue;
      if (this.forgotten(s)) this.free(s, off);
      else {
        const ts = this.tsOf(s);
        if (ts < this.passOldest) this.passOldest = ts;
      }
    }
    this.reclaimAt = s;
    if (s < this.slotEnd) return;
    // every slot seen (and every set since the start counted): the least instant held
    this.oldest = this.passOldest;
    this.reclaimAt = -1;
    if (this.reclaimAgain && this.horizon > this.oldest) this.startPass();
  }

  /** Frees a forgotten slot: a tombstone in its bucket (probes go on past it), its record becomes garbage. */
  private free(slot: number, off: number): void {
    const h = this.hashAt(slot);
    removeBucket(this.table, slot, h);
    if (this.old) removeBucket(this.old, slot, h);
    this.toGarbage(off, recordLength(this.chunks[off >>> ARENA_BITS] as Uint16Array, off & ARENA_MASK));
    (this.offC[slot >>> SLOT_BITS] as Int32Array)[slot & SLOT_MASK] = -1;
    this.freeSlots.push(slot);
    this.inUse--;
    this.lastPk = undefined;
  }

  /** The changed entries, as rows of the state table (written in the checkpoint's commit). */
  takeDirty(): DirtyState[] {
    const out: DirtyState[] = [];
    const view = dedupeView(this.source);
    const slots = this.dirtySlots;
    for (let j = 0; j < slots.length; j++) {
      const s = slots[j] as number;
      (this.cleanC[s >>> SLOT_BITS] as Int32Array)[s & SLOT_MASK] = this.advances;
      out.push({
        view,
        key: this.dirtyPk[j] as string,
        state: toState(
          (this.seqC[s >>> SLOT_BITS] as Float64Array)[s & SLOT_MASK] as number,
          this.tsOf(s),
          this.dirtyKeys[j] as readonly (string | null)[],
        ),
      });
    }
    this.dirtySlots = [];
    this.dirtyPk = [];
    this.dirtyKeys = [];
    this.work(RECLAIM_PER_CHECKPOINT, EVACUATE_PER_CHECKPOINT, 8 * this.migrateStep);
    return out;
  }

  /** Sizes (for tests): slots handed out and in use, arena chunks held, buckets, whether a rehash is under way. */
  footprint(): { slots: number; inUse: number; arenaChunks: number; buckets: number; rehashing: boolean } {
    return {
      slots: this.slotEnd,
      inUse: this.inUse,
      arenaChunks: this.chunks.length - this.freeChunks.length,
      buckets: this.table.length,
      rehashing: this.old !== null,
    };
  }
}

/** Puts a tombstone where a table holds `slot` (nothing when it does not). */
function removeBucket(t: Int32Array, slot: number, h: number): void {
  const mask = t.length - 1;
  for (let b = h & mask; ; b = (b + 1) & mask) {
    const e = t[b] as number;
    if (e === 0) return;
    if (e === slot + 1) {
      t[b] = TOMB;
      return;
    }
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

/** The length in units of the record at `off` (slot, pk, entity keys). */
function recordLength(a: Uint16Array, off: number): number {
  let p = off + 2;
  p += 2 + (((a[p] as number) << 16) | (a[p + 1] as number));
  const n = a[p++] as number;
  for (let i = 0; i < n; i++) {
    const len = ((a[p] as number) << 16) | (a[p + 1] as number);
    p += 2 + (len === 0 ? 0 : len - 1);
  }
  return p - off;
}

/**
 * An index entry in the shape of an entity state (one event: instant, sequence, the entity keys),
 * so that every store saves it as it saves states, in the same commit.
 */
function toState(seq: number, ts: Instant, keys: readonly (string | null)[]): EntityState {
  return { tail: [ts, seq, ...keys], width: 2 + keys.length, head: null, first: ts, seq, taken: 0 };
}

/** Takes the event of sequence `seq` out of a state's tail; false when it is not there. */
export function removeEntry(state: EntityState, seq: number): boolean {
  const tail = state.tail;
  const w = state.width;
  let k = 0;
  while (k < tail.length && tail[k + 1] !== seq) k += w;
  if (k >= tail.length) return false;
  tail.splice(k, w);
  // tells an incremental store writer that events were taken out, not only added, so that it
  // rewrites the whole state (storage/online/sqlite.ts)
  state.taken++;
  // the population starts at the earliest applied event still held
  if (state.head === null) state.first = tail.length > 0 ? (tail[0] as number) : null;
  return true;
}
