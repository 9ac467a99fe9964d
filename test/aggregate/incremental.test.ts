// The incremental contract of every aggregation kind on random events: merge(split) == whole
// (any split point, partials combined in either order), remove undoes update where invertible,
// and incremental == a naive recomputation over the whole list.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INCREMENTAL, type PartialAgg } from '../../src/aggregate/incremental.js';
import { AGG_KINDS, type AggKind } from '../../src/aggregate/kinds.js';
import type { Value } from '../../src/expr/evaluate.js';

const ctx = { referenceDate: '2024-03-20', timezone: 'Europe/Paris' };
const T0 = Date.UTC(2024, 2, 1);
const ev: fc.Arbitrary<[number, number | null]> = fc.tuple(
  fc.integer({ min: 0, max: 20 * 86_400_000 }).map((t) => T0 + Math.floor(t / 1000) * 1000),
  fc.option(fc.constantFrom(0, 1, -2, 2.5, 10, 7.25, 3), { nil: null }),
);

function fold(kind: AggKind, events: [number, Value][]): PartialAgg {
  const agg = INCREMENTAL[kind];
  let p = agg.zero();
  for (const [t, v] of events) p = agg.update(p, v, t);
  return p;
}

function same(a: Value, b: Value): boolean {
  if (typeof a === 'number' && typeof b === 'number')
    return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
  return a === b;
}

describe('incremental aggregation contract', () => {
  it('merge(split) == whole for every kind', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...AGG_KINDS),
        fc.array(ev, { maxLength: 30 }),
        fc.nat(),
        (kind, events, cut) => {
          const agg = INCREMENTAL[kind];
          const k = events.length === 0 ? 0 : cut % (events.length + 1);
          const whole = agg.finalize(fold(kind, events), ctx);
          const left = fold(kind, events.slice(0, k));
          const right = fold(kind, events.slice(k));
          expect(same(agg.finalize(agg.merge(left, right), ctx), whole)).toBe(true);
          expect(
            same(
              agg.finalize(agg.merge(fold(kind, events.slice(k)), fold(kind, events.slice(0, k))), ctx),
              whole,
            ),
          ).toBe(true);
        },
      ),
      { numRuns: 500, seed: 1 },
    );
  });

  it('remove undoes update for the invertible kinds', () => {
    const invertible = AGG_KINDS.filter((k) => INCREMENTAL[k].remove);
    expect(invertible).toEqual(
      expect.arrayContaining(['count', 'sum', 'avg', 'exists', 'count_distinct', 'stddev']),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...invertible),
        fc.array(ev, { maxLength: 30 }),
        fc.nat(),
        (kind, events, cut) => {
          const agg = INCREMENTAL[kind];
          const k = events.length === 0 ? 0 : cut % (events.length + 1);
          let p = fold(kind, events);
          for (const [t, v] of events.slice(0, k)) p = agg.remove?.(p, v, t) ?? p;
          expect(same(agg.finalize(p, ctx), agg.finalize(fold(kind, events.slice(k)), ctx))).toBe(true);
        },
      ),
      { numRuns: 500, seed: 2 },
    );
  });

  it('incremental == naive recomputation', () => {
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 30 }), (events) => {
        const vals = events.map(([, v]) => v).filter((v): v is number => v !== null);
        const n = vals.length;
        const total = vals.reduce((a, b) => a + b, 0);
        const mean = total / n;
        const naive: Partial<Record<AggKind, Value>> = {
          count: n,
          sum: total,
          avg: n === 0 ? null : mean,
          min: n === 0 ? null : Math.min(...vals),
          max: n === 0 ? null : Math.max(...vals),
          exists: n > 0,
          count_distinct: new Set(vals).size,
          stddev: n < 2 ? null : Math.sqrt(vals.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)),
        };
        const withValue = events.filter(([, v]) => v !== null);
        const latest = withValue.reduce<[number, number] | null>(
          (b, [t, v]) =>
            b === null || t > b[0] || (t === b[0] && (v as number) > b[1]) ? [t, v as number] : b,
          null,
        );
        naive.last = latest?.[1] ?? null;
        for (const [kind, want] of Object.entries(naive) as [AggKind, Value][]) {
          const got = INCREMENTAL[kind].finalize(fold(kind, events), ctx);
          expect(same(got, want), `${kind}: ${got} vs ${want}`).toBe(true);
        }
      }),
      { numRuns: 300, seed: 3 },
    );
  });
});
