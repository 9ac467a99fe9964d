// Per-entity streaming state of one view, and the values it serves for any read time.
// State = per-event entries (the tail, exact for every window) + one compacted partial per `all`
// feature for events older than every finite window can reach (bounded memory, no approximation).

import { foldEntries, INCREMENTAL, type PartialAgg } from '../aggregate/incremental.js';
import { compileEvaluator, type Evaluator, type Row, type Value } from '../expr/evaluate.js';
import type { Project, View } from '../spec/project.js';
import { type Instant, windowStart } from '../time/index.js';
import { asOfDateAt } from '../time/read-time.js';

/**
 * One applied event as one array, as versions before the flat tail held it: [instant, sequence,
 * value of each feature]. The tail is now flat (EntityState); tests still write events this way
 * (test/support/states.ts).
 */
export type TailEntry = [Instant, number, ...Value[]];

export interface EntityState {
  /**
   * Applied events not yet compacted, in (instant, sequence) order, flat: `width` values per event,
   * [instant, sequence, value of each column slot...]. One array of numbers per entity (V8 keeps it
   * as unboxed doubles while every value is a number) instead of an array and a boxed double per event.
   */
  tail: Value[];
  /** Values per event in `tail`: 2 + the view's column slots (tailLayout). */
  width: number;
  /** Feature index -> the partial of compacted events (features with an `all` window only). */
  head: Record<string, PartialAgg> | null;
  /** The earliest instant of any applied event (population: present from then on). */
  first: Instant | null;
  /** The sequence of the last applied event: a replay of it or of anything older is ignored. */
  seq: number;
  /**
   * Events taken out of the tail so far by this process (compaction, a primary key's earlier event);
   * not stored. A store writing only new events writes the whole state when it has changed.
   */
  taken: number;
}

export function emptyState(width: number): EntityState {
  return { tail: [], width, head: null, first: null, seq: -1, taken: 0 };
}

/** The number of events in a state's tail. */
export const entryCount = (s: EntityState): number => s.tail.length / s.width;

/**
 * Where a view's feature values sit in a tail event: features over the same column share one slot
 * (one value per event, not one per feature), and row-counting features without a column have none
 * (their value is TRUE for every applied event).
 */
export interface TailLayout {
  /** Values per event: instant, sequence, then one per slot. */
  width: number;
  /** Per feature, the offset of its value in an event (2 + its slot), or -1 without a column. */
  at: Int32Array;
  /** Per slot, the first feature using it. */
  slots: number[];
}

export function tailLayout(view: View): TailLayout {
  const slots: number[] = [];
  // the same text and the same expression: on a CDC history, as_of's expression of a column text
  // is not the column (NULL at a delete: spec/parse.ts)
  const exprs = view.features.map((f) => JSON.stringify(f.column));
  const at = Int32Array.from(view.features, (f, i) => {
    if (f.column === undefined) return -1;
    const same = slots.findIndex(
      (j) => view.features[j]?.columnText === f.columnText && exprs[j] === exprs[i],
    );
    if (same >= 0) return 2 + same;
    slots.push(i);
    return 2 + slots.length - 1;
  });
  return { width: 2 + slots.length, at, slots };
}

/**
 * A state in `layout`. States stored by earlier versions (before 2026-12) hold one value per
 * feature (width 2 + features; decodeState flattens their entry arrays): their values are picked
 * into the view's slots, in a new object. A state already in the layout is returned as it is.
 */
export function inLayout(s: EntityState, layout: TailLayout, features: number): EntityState {
  const { tail, width } = s;
  if (width === layout.width) return s;
  // a tail without events tells no width (rows of earlier versions decode it as 2): any layout fits
  if (tail.length > 0 && width !== 2 + features) {
    throw new Error(
      `an online state has ${width - 2} values per event where this view has ${layout.width - 2} columns (${features} features): the view changed without a new version`,
    );
  }
  const out: Value[] = [];
  for (let k = 0; k < tail.length; k += width) {
    out.push(tail[k] as Value, tail[k + 1] as Value);
    for (const f of layout.slots) out.push(tail[k + 2 + f] as Value);
  }
  return { tail: out, width: layout.width, head: s.head, first: s.first, seq: s.seq, taken: 0 };
}

/** A view compiled for the stream: key extraction, `where`, and one evaluator per column slot. */
export class ViewRuntime {
  readonly keyOf: (row: Row) => string | null;
  readonly layout: TailLayout;
  private readonly where: Evaluator | undefined;
  /** One evaluator per slot of the layout. */
  private readonly slots: Evaluator[];

  constructor(
    readonly view: View,
    readonly timezone: string,
    project: Project,
  ) {
    const source = project.sources[view.source];
    if (!source) throw new Error(`view ${view.name} names unknown source ${view.source}`);
    const ctx = { timezone, columns: source.columns };
    this.where = view.where ? compileEvaluator(view.where, ctx) : undefined;
    this.layout = tailLayout(view);
    this.slots = this.layout.slots.map((f) => {
      const column = view.features[f]?.column;
      if (!column) throw new Error(`feature ${f} of view ${view.name} has no column`);
      return compileEvaluator(column, ctx);
    });
    this.keyOf = entityKeyOf(view.keys);
  }

  /** A state of this view with no event. */
  emptyState(): EntityState {
    return emptyState(this.layout.width);
  }

  /** Whether an event counts for this view (`where` is TRUE for it, or there is none). */
  accepts(row: Row): boolean {
    return this.where === undefined || this.where(row) === true;
  }

  /** A state in this view's layout (see inLayout): states of earlier versions are converted. */
  adapt(state: EntityState): EntityState {
    return inLayout(state, this.layout, this.view.features.length);
  }

  /**
   * Applies one accepted event (its values evaluated into the tail at its place by instant);
   * false when the state already holds this sequence (idempotent replay).
   */
  apply(state: EntityState, row: Row, ts: Instant, seq: number): boolean {
    if (seq <= state.seq) return false;
    state.seq = seq;
    if (state.first === null || ts < state.first) state.first = ts;
    const tail = state.tail;
    const w = state.width;
    const slots = this.slots;
    let i = tail.length;
    while (i > 0 && (tail[i - w] as number) > ts) i -= w;
    if (i === tail.length) {
      tail.push(ts, seq);
      for (let k = 0; k < slots.length; k++) tail.push((slots[k] as Evaluator)(row));
    } else {
      const vals: Value[] = [ts, seq];
      for (let k = 0; k < slots.length; k++) vals.push((slots[k] as Evaluator)(row));
      tail.splice(i, 0, ...vals);
    }
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
    const tail = state.tail;
    const w = state.width;
    let end = 0;
    while (end < tail.length && (tail[end] as number) < oldest) end += w;
    if (end === 0) return false;
    const features = this.view.features;
    const at = this.layout.at;
    let head = state.head;
    if (!head) {
      head = {};
      for (const [i, f] of features.entries()) {
        if (f.window.kind === 'all') head[i] = INCREMENTAL[f.agg].zero();
      }
    }
    for (let k = 0; k < end; k += w) {
      for (const [i, f] of features.entries()) {
        if (!(i in head)) continue;
        const a = at[i] as number;
        const v = a < 0 ? true : (tail[k + a] as Value);
        head[i] = INCREMENTAL[f.agg].update(head[i] as PartialAgg, v, tail[k] as number);
      }
    }
    state.head = head;
    tail.splice(0, end);
    state.taken += end / w;
    return true;
  }

  /** The feature values served for a read at `at` (window [at - W, at)), or null if absent then. */
  valuesAt(stored: EntityState, at: Instant): Value[] | null {
    const state = this.adapt(stored);
    if (state.first === null || state.first >= at) return null;
    const referenceDate = asOfDateAt(at, this.view.cutoff, this.timezone);
    const ctx = { referenceDate, timezone: this.timezone };
    const head = state.head;
    return this.view.features.map((f, i) =>
      foldEntries(
        f.agg,
        head && i in head ? head[i] : undefined,
        state.tail,
        state.width,
        this.layout.at[i] as number,
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
