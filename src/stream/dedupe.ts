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

export class PrimaryKeyIndex {
  private readonly dirty = new Set<string>();
  /** Events before this instant may be compacted in some view: they can no longer be taken back. */
  horizon = Number.NEGATIVE_INFINITY;

  private readonly entries = new Map<string, PkEntry>();

  /** `saved`: the index as stored (see toState). */
  constructor(
    private readonly source: string,
    private readonly primaryKey: string[],
    saved: Map<string, EntityState>,
  ) {
    for (const [pk, st] of saved) {
      const e = st.tail[0];
      if (e) {
        this.entries.set(pk, { seq: st.seq, ts: e[0], keys: e.slice(2) as (string | null)[] });
        if (e[0] < this.oldest) this.oldest = e[0];
      }
    }
  }

  /** The primary key of a row; NULLs are a value, as in batch's PARTITION BY. */
  keyOf(row: Row): string {
    if (this.primaryKey.length === 1) return JSON.stringify(row[this.primaryKey[0] as string] ?? null);
    return JSON.stringify(this.primaryKey.map((k) => row[k] ?? null));
  }

  /** The earlier event of this key still inside the horizon (so that it can be taken back). */
  previous(pk: string): PkEntry | undefined {
    const e = this.entries.get(pk);
    return e && e.ts >= this.horizon ? e : undefined;
  }

  /** Whether an earlier event of this key exists but is beyond the horizon (it stays applied). */
  beyondHorizon(pk: string): boolean {
    const e = this.entries.get(pk);
    return e !== undefined && e.ts < this.horizon;
  }

  set(pk: string, entry: PkEntry): void {
    this.entries.set(pk, entry);
    this.dirty.add(pk);
    if (entry.ts < this.oldest) this.oldest = entry.ts;
  }

  /** At or before the earliest instant held: the entries are scanned only once the horizon passes it. */
  private oldest = Number.POSITIVE_INFINITY;

  /** Moves the horizon and forgets (in memory) what lies before it. */
  advance(horizon: Instant): void {
    if (horizon <= this.horizon) return;
    this.horizon = horizon;
    // a scan of every entry at each checkpoint cost O(index) per checkpoint: skip it while nothing is old enough
    if (horizon <= this.oldest) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [pk, e] of this.entries) {
      if (e.ts < horizon && !this.dirty.has(pk)) this.entries.delete(pk);
      else if (e.ts < oldest) oldest = e.ts;
    }
    this.oldest = oldest;
  }

  /** The changed entries, as rows of the state table (written in the checkpoint's commit). */
  takeDirty(): DirtyState[] {
    const out: DirtyState[] = [];
    for (const pk of this.dirty) {
      const e = this.entries.get(pk) as PkEntry;
      out.push({ view: dedupeView(this.source), key: pk, state: toState(e) });
    }
    this.dirty.clear();
    return out;
  }
}

/**
 * An index entry in the shape of an entity state (one tail entry: instant, sequence, the entity
 * keys), so that every store saves it as it saves states, in the same commit.
 */
function toState(e: PkEntry): EntityState {
  return { tail: [[e.ts, e.seq, ...e.keys]], head: null, first: e.ts, seq: e.seq };
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
