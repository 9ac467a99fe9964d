// A long-lived read-only handle on the online store for serving: statements prepared once, decoded
// entity states kept in a bounded LRU cache, and both the cache and the parsed checkpoints dropped
// whenever another connection has committed (SQLite's data_version, read once per lookup: ~1-2 µs).

import path from 'node:path';
import Database from 'better-sqlite3';
import { AsofError } from '../../errors.js';
import { type EntityState, entryCount } from '../../stream/state.js';
import { type Checkpoint, ONLINE_FILE, StateRows } from './sqlite.js';

/**
 * What the state cache holds at most, counted as one per state plus one per tail entry (a tail
 * entry is a few dozen bytes decoded): some 50-100 MB with the benchmark's five features.
 */
export const DEFAULT_STATE_CACHE_WEIGHT = 500_000;

/** A state weighs 1 + its tail entries; an absent entity (null) weighs 1. */
const weightOf = (s: EntityState | null) => (s === null ? 1 : 1 + entryCount(s));

/** Lookups of every state cache of this process (exported as serve metrics). */
export const stateCacheCounts = { hits: 0, misses: 0 };

/**
 * Bits of each generation of the admission filter (256 KB), and how many ids a generation takes
 * before it becomes the previous one: an id is remembered for 128k-256k other ids, at most 1/16 of
 * each generation's bits set (so a one-off id passes for a seen one ~6-12% of the time).
 */
const SEEN_BITS = 1 << 21;
const SEEN_GENERATION = 1 << 17;

/**
 * Decoded states by view and key, least recently used first (a Map keeps insertion order; a hit
 * moves its entry to the end). Absent entities are cached too, as null. Readers never mutate a
 * state (ViewRuntime.valuesAt clones what it folds), so one object serves every read.
 * A state is kept from its second miss on within the last 128k-256k ids (a hashed "seen" filter in
 * two generations, an aging doorkeeper): keeping every cold read made each one survive into V8's
 * old generation, and the scavenges copying them tripled the p99 of random single GETs at 5k/s
 * (3.5 ms uncached against 10-15 ms cached). Two generations rather than one filter reset when
 * full: a reset forgot everything at once, so a key read once every 16k+ ids was never kept.
 */
export class StateCache {
  private readonly map = new Map<string, EntityState | null>();
  private weight = 0;
  private seen = new Uint32Array(SEEN_BITS / 32);
  private seenBefore = new Uint32Array(SEEN_BITS / 32);
  private seenCount = 0;

  constructor(readonly maxWeight: number) {}

  /** The cached state, null when cached as absent, undefined when not cached. */
  get(id: string): EntityState | null | undefined {
    const s = this.map.get(id);
    if (s === undefined) {
      stateCacheCounts.misses++;
      return undefined;
    }
    stateCacheCounts.hits++;
    this.map.delete(id);
    this.map.set(id, s);
    return s;
  }

  set(id: string, s: EntityState | null): void {
    const w = weightOf(s);
    if (w > this.maxWeight) return;
    const old = this.map.get(id);
    if (old === undefined && !this.admit(id)) return;
    if (old !== undefined) {
      this.weight -= weightOf(old);
      this.map.delete(id);
    }
    this.map.set(id, s);
    this.weight += w;
    while (this.weight > this.maxWeight) {
      const first = this.map.entries().next().value as [string, EntityState | null];
      this.map.delete(first[0]);
      this.weight -= weightOf(first[1]);
    }
  }

  /**
   * True when the id was seen in this generation or the previous one (FNV-1a hash; a collision
   * only admits a state early). Marks it in this one; a full generation becomes the previous.
   */
  private admit(id: string): boolean {
    let h = 2166136261;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
    const bit = (h >>> 0) & (SEEN_BITS - 1);
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    if (((this.seen[word] as number) & mask) !== 0) return true;
    this.seen[word] = (this.seen[word] as number) | mask;
    const seenBefore = ((this.seenBefore[word] as number) & mask) !== 0;
    if (++this.seenCount >= SEEN_GENERATION) {
      [this.seen, this.seenBefore] = [this.seenBefore, this.seen];
      this.seen.fill(0);
      this.seenCount = 0;
    }
    return seenBefore;
  }

  clear(): void {
    this.map.clear();
    this.weight = 0;
  }

  get size(): number {
    return this.map.size;
  }

  get totalWeight(): number {
    return this.weight;
  }
}

export class OnlineReader {
  private readonly rows: StateRows;
  private readonly allCheckpoints: Database.Statement;
  private readonly dataVersion: Database.Statement;
  private readonly inOneSnapshot: (view: string, keys: readonly string[]) => (EntityState | null)[];
  private version = -1;
  private parsed: { views: string[]; checkpoint: Checkpoint }[] | null = null;
  private readonly byView = new Map<string, Checkpoint[]>();
  readonly cache: StateCache;

  private constructor(
    private readonly db: Database.Database,
    cacheWeight: number,
  ) {
    this.rows = new StateRows(db);
    this.allCheckpoints = db.prepare('SELECT views, data FROM checkpoint');
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.cache = new StateCache(cacheWeight);
    this.inOneSnapshot = db.transaction((view: string, keys: readonly string[]) =>
      keys.map((k) => this.lookup(view, k)),
    );
  }

  /** Opens the store read-only; throws when it does not exist or has no stream tables yet. */
  static open(dir: string, opts: { cacheWeight?: number } = {}): OnlineReader {
    const file = path.join(dir, ONLINE_FILE);
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      return new OnlineReader(db, opts.cacheWeight ?? DEFAULT_STATE_CACHE_WEIGHT);
    } catch {
      db?.close();
      throw new AsofError('usage', `no online store at ${file}`, { file });
    }
  }

  /** Drops what was read before another connection's last commit (states and checkpoints). */
  private refresh(): void {
    const v = this.dataVersion.get() as number;
    if (v === this.version) return;
    this.version = v;
    this.cache.clear();
    this.parsed = null;
    this.byView.clear();
  }

  private lookup(view: string, key: string): EntityState | null {
    const id = `${view}\u0000${key}`;
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    const s = this.rows.get(view, key);
    this.cache.set(id, s);
    return s;
  }

  /**
   * One entity's state. `checked`: the caller has just read checkpoints (checkpointsOf) in the same
   * synchronous run, so nothing of this process can have committed since: the commit check is skipped.
   */
  getState(view: string, key: string, checked = false): EntityState | null {
    if (!checked) this.refresh();
    return this.lookup(view, key);
  }

  /** The states of several entities of a view, read in one snapshot of the file. */
  getStates(view: string, keys: readonly string[]): (EntityState | null)[] {
    this.refresh();
    return this.inOneSnapshot(view, keys);
  }

  keys(view: string): string[] {
    return this.rows.keys(view);
  }

  /** Every checkpoint whose job serves `view`; parsed again only after a commit elsewhere. */
  checkpointsOf(view: string): Checkpoint[] {
    this.refresh();
    let out = this.byView.get(view);
    if (out) return out;
    this.parsed ??= (this.allCheckpoints.all() as { views: string; data: string }[]).map((r) => ({
      views: JSON.parse(r.views) as string[],
      checkpoint: JSON.parse(r.data) as Checkpoint,
    }));
    out = this.parsed.filter((c) => c.views.includes(view)).map((c) => c.checkpoint);
    this.byView.set(view, out);
    return out;
  }

  close(): void {
    this.db.close();
  }
}
