// The incremental form of every aggregation kind (Chronon's contract): zero, update, merge, remove
// (where invertible) and finalize, over JSON-serializable partial aggregates. The streaming path and
// the online store use exactly these; tests prove them equal to the batch SQL of each kind.

import { compareValues, type Value } from '../expr/evaluate.js';
import { daysBetween, type Instant, type IsoDate, localDate } from '../time/index.js';
import type { AggKind } from './kinds.js';

/** What finalize needs besides the partial aggregate: the date days_since_last counts to. */
export interface FinalizeContext {
  referenceDate: IsoDate;
  timezone: string;
}

/** A JSON-serializable partial aggregate (the intermediate representation). */
export type PartialAgg = number | null | [number, number] | [number, number, number] | TimedValue | Distinct;
/** A value with its event instant (first, last; as_of also keeps a NULL value). */
export type TimedValue = { t: Instant; v: string | number | boolean | null } | null;
/** count_distinct: typed value key -> number of events holding it (so that remove works). */
export type Distinct = Record<string, number>;

export interface IncrementalAgg {
  /** The partial aggregate of no events. */
  zero(): PartialAgg;
  /** Adds one event's value (NULL values are ignored by every kind: row counts pass `true`). */
  update(p: PartialAgg, value: Value, ts: Instant): PartialAgg;
  /** Combines the partials of two disjoint sets of events. */
  merge(a: PartialAgg, b: PartialAgg): PartialAgg;
  /** Takes one event back out, for kinds where that is exact; undefined otherwise. */
  remove?: (p: PartialAgg, value: Value, ts: Instant) => PartialAgg;
  /** The feature value of a partial. */
  finalize(p: PartialAgg, ctx: FinalizeContext): Value;
}

type NonNull = string | number | boolean;

const count: IncrementalAgg = {
  zero: () => 0,
  update: (p, v) => (v === null ? p : (p as number) + 1),
  merge: (a, b) => (a as number) + (b as number),
  remove: (p, v) => (v === null ? p : (p as number) - 1),
  finalize: (p) => p as number,
};

const sum: IncrementalAgg = {
  zero: () => 0,
  update: (p, v) => (v === null ? p : (p as number) + (v as number)),
  merge: (a, b) => (a as number) + (b as number),
  remove: (p, v) => (v === null ? p : (p as number) - (v as number)),
  finalize: (p) => {
    const s = p as number;
    return s === 0 ? 0 : s;
  },
};

/** avg: [n, sum]. */
const avg: IncrementalAgg = {
  zero: () => [0, 0],
  update: (p, v) => {
    if (v === null) return p;
    const [n, s] = p as [number, number];
    return [n + 1, s + (v as number)];
  },
  merge: (a, b) => {
    const [n1, s1] = a as [number, number];
    const [n2, s2] = b as [number, number];
    return [n1 + n2, s1 + s2];
  },
  remove: (p, v) => {
    if (v === null) return p;
    const [n, s] = p as [number, number];
    return [n - 1, s - (v as number)];
  },
  finalize: (p) => {
    const [n, s] = p as [number, number];
    return n === 0 ? null : s / n;
  },
};

function extreme(sign: 1 | -1): IncrementalAgg {
  const pick = (a: PartialAgg, b: PartialAgg): PartialAgg => {
    if (a === null) return b;
    if (b === null) return a;
    return compareValues(a as NonNull, b as NonNull) * sign > 0 ? a : b;
  };
  return {
    zero: () => null,
    update: (p, v) => (v === null ? p : pick(p, v as number)),
    merge: pick,
    finalize: (p) => p as Value,
  };
}

const exists: IncrementalAgg = {
  zero: () => 0,
  update: count.update,
  merge: count.merge,
  remove: count.remove,
  finalize: (p) => (p as number) > 0,
};

function distinctKey(v: NonNull): string {
  return `${typeof v === 'string' ? 's' : typeof v === 'boolean' ? 'b' : 'n'}${String(v)}`;
}

const countDistinct: IncrementalAgg = {
  zero: () => ({}),
  update: (p, v) => {
    if (v === null) return p;
    const d = p as Distinct;
    const k = distinctKey(v);
    d[k] = (d[k] ?? 0) + 1;
    return d;
  },
  merge: (a, b) => {
    const out: Distinct = { ...(a as Distinct) };
    for (const [k, n] of Object.entries(b as Distinct)) out[k] = (out[k] ?? 0) + n;
    return out;
  },
  remove: (p, v) => {
    if (v === null) return p;
    const d = p as Distinct;
    const k = distinctKey(v);
    const n = (d[k] ?? 0) - 1;
    if (n <= 0) delete d[k];
    else d[k] = n;
    return d;
  },
  finalize: (p) => Object.keys(p as Distinct).length,
};

/** first / last: the value at the earliest / latest instant; at one instant the greater value wins. */
function timed(latest: boolean): IncrementalAgg {
  const better = (a: TimedValue, b: TimedValue): TimedValue => {
    if (a === null) return b;
    if (b === null) return a;
    if (a.t !== b.t) return a.t > b.t === latest ? a : b;
    return compareValues(a.v as NonNull, b.v as NonNull) >= 0 ? a : b;
  };
  return {
    zero: () => null,
    update: (p, v, t) => (v === null ? p : better(p as TimedValue, { t, v })),
    merge: (a, b) => better(a as TimedValue, b as TimedValue),
    finalize: (p) => (p === null ? null : (p as { v: NonNull }).v),
  };
}

/** as_of: the value at the latest instant, NULL included; at one instant the greater value, NULL least. */
const asOf: IncrementalAgg = (() => {
  const better = (a: TimedValue, b: TimedValue): TimedValue => {
    if (a === null) return b;
    if (b === null) return a;
    if (a.t !== b.t) return a.t > b.t ? a : b;
    if (a.v === null) return b;
    if (b.v === null) return a;
    return compareValues(a.v, b.v) >= 0 ? a : b;
  };
  return {
    zero: () => null,
    update: (p, v, t) => better(p as TimedValue, { t, v: v as NonNull | null }),
    merge: (a, b) => better(a as TimedValue, b as TimedValue),
    finalize: (p) => (p === null ? null : ((p as { v: NonNull | null }).v ?? null)),
  };
})();

/** stddev (sample): Welford's [n, mean, m2], merged with Chan's formula. */
const stddev: IncrementalAgg = {
  zero: () => [0, 0, 0],
  update: (p, v) => {
    if (v === null) return p;
    const [n, mean, m2] = p as [number, number, number];
    const x = v as number;
    const n1 = n + 1;
    const delta = x - mean;
    const mean1 = mean + delta / n1;
    return [n1, mean1, m2 + delta * (x - mean1)];
  },
  merge: (a, b) => {
    const [na, ma, qa] = a as [number, number, number];
    const [nb, mb, qb] = b as [number, number, number];
    if (na === 0) return [nb, mb, qb];
    if (nb === 0) return [na, ma, qa];
    const n = na + nb;
    const delta = mb - ma;
    return [n, ma + (delta * nb) / n, qa + qb + (delta * delta * na * nb) / n];
  },
  remove: (p, v) => {
    if (v === null) return p;
    const [n, mean, m2] = p as [number, number, number];
    const x = v as number;
    if (n <= 1) return [0, 0, 0];
    const n0 = n - 1;
    const mean0 = (mean * n - x) / n0;
    return [n0, mean0, Math.max(0, m2 - (x - mean0) * (x - mean))];
  },
  finalize: (p) => {
    const [n, , m2] = p as [number, number, number];
    return n < 2 ? null : Math.sqrt(Math.max(0, m2) / (n - 1));
  },
};

/** days_since_last: the latest instant; whole local days from its date to the reference date. */
const daysSinceLast: IncrementalAgg = {
  zero: () => null,
  update: (p, v, t) => (v === null ? p : p === null || t > (p as number) ? t : p),
  merge: (a, b) => (a === null ? b : b === null ? a : Math.max(a as number, b as number)),
  finalize: (p, ctx) =>
    p === null ? null : daysBetween(localDate(p as number, ctx.timezone), ctx.referenceDate),
};

export const INCREMENTAL: Record<AggKind, IncrementalAgg> = {
  count,
  sum,
  avg,
  min: extreme(-1),
  max: extreme(1),
  exists,
  count_distinct: countDistinct,
  last: timed(true),
  first: timed(false),
  stddev,
  days_since_last: daysSinceLast,
  as_of: asOf,
};

/** A deep copy of a partial (update and remove may mutate count_distinct's map in place). */
export function clonePartial(p: PartialAgg): PartialAgg {
  if (p === null || typeof p !== 'object') return p;
  if (Array.isArray(p)) return [...p] as PartialAgg;
  return { ...p } as PartialAgg;
}

/**
 * One feature's value over a state's tail for a read at `at` (flat: `width` values per event,
 * the instant first, in instant order; this feature's value at offset `col` of each event, or
 * TRUE for every event when `col` is -1; window [start, at), start null for `all`), folded from
 * `init` (the compacted partial, zero when undefined): what ViewRuntime.valuesAt computes per
 * feature, for serving. Sum and avg are folded into plain numbers (no partial or boxed double per
 * event); every other kind goes through its update. Same additions in the same order,
 * so the same values to the bit.
 */
export function foldEntries(
  kind: AggKind,
  init: PartialAgg | undefined,
  tail: readonly unknown[],
  width: number,
  col: number,
  start: number | null,
  at: number,
  ctx: FinalizeContext,
): Value {
  // the window's events are one run of the time-ordered tail: [from, to)
  const lo = start ?? Number.NEGATIVE_INFINITY;
  let from = 0;
  while (from < tail.length && (tail[from] as number) < lo) from += width;
  let to = from;
  while (to < tail.length && (tail[to] as number) < at) to += width;
  switch (kind) {
    // sum and avg as plain local numbers: through `update` each double would be boxed per event
    case 'sum': {
      let s = init === undefined ? 0 : (init as number);
      for (let k = from; k < to; k += width) {
        const v = tail[k + col];
        if (v !== null) s = s + (v as number);
      }
      return s === 0 ? 0 : s;
    }
    case 'avg': {
      let c = 0;
      let s = 0;
      if (init !== undefined) [c, s] = init as [number, number];
      for (let k = from; k < to; k += width) {
        const v = tail[k + col];
        if (v !== null) {
          c = c + 1;
          s = s + (v as number);
        }
      }
      return c === 0 ? null : s / c;
    }
    default: {
      const agg = INCREMENTAL[kind];
      let p = init === undefined ? agg.zero() : clonePartial(init);
      for (let k = from; k < to; k += width) {
        p = agg.update(p, col < 0 ? true : (tail[k + col] as Value), tail[k] as number);
      }
      return agg.finalize(p, ctx);
    }
  }
}
