// Per-entity streaming state of one view, and the values it serves for any read time.
// State = per-event entries (the tail, exact for every window) + one compacted partial per `all`
// feature for events older than every finite window can reach (bounded memory, no approximation).

import { foldEntries, INCREMENTAL, type PartialAgg } from '../aggregate/incremental.js';
import { compileEvaluator, type Evaluator, type Row, type Value } from '../expr/evaluate.js';
import type { Project, View } from '../spec/project.js';
import { type Instant, windowStart } from '../time/index.js';
import { asOfDateAt } from '../time/read-time.js';

/** One applied event: [instant, sequence, value of each feature]. */
export type TailEntry = [Instant, number, ...Value[]];

export interface EntityState {
  /** Applied events not yet compacted, in (instant, sequence) order. */
  tail: TailEntry[];
  /** Feature index -> the partial of compacted events (features with an `all` window only). */
  head: Record<string, PartialAgg> | null;
  /** The earliest instant of any applied event (population: present from then on). */
  first: Instant | null;
  /** The sequence of the last applied event: a replay of it or of anything older is ignored. */
  seq: number;
}

export function emptyState(): EntityState {
  return { tail: [], head: null, first: null, seq: -1 };
}

/** A view compiled for the stream: key extraction, `where`, and one evaluator per feature column. */
export class ViewRuntime {
  readonly keyOf: (row: Row) => string | null;
  private readonly where: Evaluator | undefined;
  private readonly columns: (Evaluator | undefined)[];
  /**
   * Per feature, the earlier feature over the same column text (-1: none). Its value is reused:
   * one value per entry instead of one per feature (a double read from a parsed row is a new heap
   * number at each read, and every tail entry lives as long as its window).
   */
  private readonly sameAs: Int32Array;

  constructor(
    readonly view: View,
    readonly timezone: string,
    project: Project,
  ) {
    const source = project.sources[view.source];
    if (!source) throw new Error(`view ${view.name} names unknown source ${view.source}`);
    const ctx = { timezone, columns: source.columns };
    this.where = view.where ? compileEvaluator(view.where, ctx) : undefined;
    this.columns = view.features.map((f) => (f.column ? compileEvaluator(f.column, ctx) : undefined));
    this.sameAs = Int32Array.from(view.features, (f, i) =>
      f.columnText === undefined
        ? -1
        : view.features.findIndex((g, j) => j < i && g.column !== undefined && g.columnText === f.columnText),
    );
    this.keyOf = entityKeyOf(view.keys);
  }

  /** The entry an event adds, or null when `where` is not TRUE for it. */
  entry(row: Row, ts: Instant, seq: number): TailEntry | null {
    if (this.where && this.where(row) !== true) return null;
    const cols = this.columns;
    // made at its final length: pushing onto a two-element literal grows its backing store to 19
    // slots, and an entry lives as long as its window
    const e = new Array(2 + cols.length) as TailEntry;
    e[0] = ts;
    e[1] = seq;
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i];
      const same = this.sameAs[i] as number;
      e[2 + i] = same >= 0 ? (e[2 + same] as Value) : c ? c(row) : true;
    }
    return e;
  }

  /** Applies one entry; false when the state already holds this sequence (idempotent replay). */
  apply(state: EntityState, e: TailEntry): boolean {
    if (e[1] <= state.seq) return false;
    state.seq = e[1];
    if (state.first === null || e[0] < state.first) state.first = e[0];
    const tail = state.tail;
    let i = tail.length;
    while (i > 0 && (tail[i - 1] as TailEntry)[0] > e[0]) i--;
    if (i === tail.length) tail.push(e);
    else tail.splice(i, 0, e);
    return true;
  }

  /**
   * Folds entries no read at or after `horizon` can see in a finite window into the `all`
   * partials, and drops them. Reads before `horizon` are no longer exact (the caller records it).
   */
  compact(state: EntityState, horizon: Instant): boolean {
    return this.compactBefore(state, this.compactionBound(horizon));
  }

  /** The earliest window start of any finite feature for reads at `horizon` (computed once per checkpoint). */
  compactionBound(horizon: Instant): Instant {
    let oldest = horizon;
    for (const f of this.view.features) {
      const s = windowStart(horizon, f.window, this.timezone);
      if (s !== null && s < oldest) oldest = s;
    }
    return oldest;
  }

  /** Folds entries before `oldest` (a compactionBound) into the `all` partials; true if any was. */
  compactBefore(state: EntityState, oldest: Instant): boolean {
    // no entry is older than the state's first event: the tail need not be read (a cache miss per
    // dirty state at every checkpoint)
    if (state.first !== null && state.first >= oldest) return false;
    let n = 0;
    while (n < state.tail.length && (state.tail[n] as TailEntry)[0] < oldest) n++;
    if (n === 0) return false;
    let head = state.head;
    if (!head) {
      head = {};
      for (const [i, f] of this.view.features.entries()) {
        if (f.window.kind === 'all') head[i] = INCREMENTAL[f.agg].zero();
      }
    }
    for (let k = 0; k < n; k++) {
      const e = state.tail[k] as TailEntry;
      for (const [i, f] of this.view.features.entries()) {
        if (i in head) head[i] = INCREMENTAL[f.agg].update(head[i] as PartialAgg, e[2 + i] as Value, e[0]);
      }
    }
    state.head = head;
    state.tail.splice(0, n);
    return true;
  }

  /** The feature values served for a read at `at` (window [at - W, at)), or null if absent then. */
  valuesAt(state: EntityState, at: Instant): Value[] | null {
    if (state.first === null || state.first >= at) return null;
    const referenceDate = asOfDateAt(at, this.view.cutoff, this.timezone);
    const ctx = { referenceDate, timezone: this.timezone };
    const head = state.head;
    return this.view.features.map((f, i) =>
      foldEntries(
        f.agg,
        head && i in head ? head[i] : undefined,
        state.tail,
        2 + i,
        windowStart(at, f.window, this.timezone),
        at,
        ctx,
      ),
    );
  }
}

/** The entity key of a row as one string (JSON of the values for composite keys); null if any is NULL. */
export function entityKeyOf(keys: string[]): (row: Row) => string | null {
  if (keys.length === 1) {
    const k = keys[0] as string;
    return (row) => {
      const v = row[k];
      return v === null || v === undefined ? null : String(v);
    };
  }
  return (row) => {
    const vs = keys.map((k) => row[k] ?? null);
    return vs.includes(null) ? null : JSON.stringify(vs);
  };
}
