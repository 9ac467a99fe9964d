// Parity of the product's exact plan (running totals, and per-bucket partial aggregates merged per
// window) with the straightforward plan (every label row range-joined to its events, each feature
// aggregated over the raw rows): random events with arrival lags, random label times (several per
// user, duplicates), every kind over nested windows, in zones with DST changes; each branch of the
// plan (by label row or by point, partials or filtered aggregates, source scanned in the join or
// first restricted to the labelled entities) on its own, and the one the product chooses.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TrainingSetOptions } from '../../src/pipeline/training-set.js';
import { makeProject, spec } from '../support/project.js';
import { close, EVENT_COLUMNS, trainingRows, withArrival } from './support.js';

const ZONES = ['UTC', 'America/New_York', 'Australia/Lord_Howe'];
/** Every kind, and an `all` window (the covering window: its features take no filter). */
const EVERY_KIND: Record<string, string> = {
  n12h: '{ agg: count, window: 12h }',
  c1d: '{ agg: count, column: amount, window: 1d }',
  s3d: '{ agg: sum, column: amount, window: 3d }',
  a7d: '{ agg: avg, column: amount, window: 7d }',
  e24h: '{ agg: exists, window: 24h }',
  min1d: '{ agg: min, column: amount, window: 1d }',
  max3d: '{ agg: max, column: amount, window: 3d }',
  minall: '{ agg: min, column: amount, window: all }',
  last1d: '{ agg: last, column: amount, window: 1d }',
  last7d: '{ agg: last, column: amount, window: 7d }',
  first3d: '{ agg: first, column: amount, window: 3d }',
  firstall: '{ agg: first, column: amount, window: all }',
  cd3d: '{ agg: count_distinct, column: status, window: 3d }',
  cdall: '{ agg: count_distinct, column: amount, window: all }',
  sd7d: '{ agg: stddev, column: amount, window: 7d }',
  dsl12h: '{ agg: days_since_last, window: 12h }',
  dsl7d: '{ agg: days_since_last, window: 7d }',
};
/** No `all` window: 3d covers the others (its features are computed without a filter). */
const COVERED: Record<string, string> = {
  n3d: '{ agg: count, window: 3d }',
  e3d: '{ agg: exists, window: 3d }',
  s3d: '{ agg: sum, column: amount, window: 3d }',
  a1d: '{ agg: avg, column: amount, window: 1d }',
  n24h: '{ agg: count, window: 24h }',
  dsl3d: '{ agg: days_since_last, window: 3d }',
  last3d: '{ agg: last, column: amount, window: 3d }',
};
/** 1d and 24h: neither starts before the other at every t in a zone with DST (no covering window). */
const UNCOVERED: Record<string, string> = {
  n1d: '{ agg: count, window: 1d }',
  e24h: '{ agg: exists, window: 24h }',
  s24h: '{ agg: sum, column: amount, window: 24h }',
  c1d: '{ agg: count, column: amount, window: 1d }',
};
const FEATURE_SETS = [EVERY_KIND, COVERED, UNCOVERED];

/** Each branch forced, then the product's own choice. */
const PLANS: { name: string; plan: TrainingSetOptions['plan'] }[] = [
  {
    name: 'by label row, filtered aggregates, source scanned in the join',
    plan: { unit: 'rows', bucketing: false, inlineEvents: true },
  },
  {
    name: 'by label row, partials, labelled entities first',
    plan: { unit: 'rows', bucketing: true, inlineEvents: false },
  },
  {
    name: 'by point, filtered aggregates, labelled entities first',
    plan: { unit: 'points', bucketing: false, inlineEvents: false },
  },
  {
    name: 'by point, partials, source scanned in the join',
    plan: { unit: 'points', bucketing: true, inlineEvents: true },
  },
  { name: 'as the product chooses', plan: undefined },
];

describe('exact plan = straightforward plan', () => {
  it.each(PLANS)(
    '$name: for random events (late arrivals, equal times, NULL values) and label times, every kind and window agrees',
    async ({ plan }) => {
      const event = fc.record({
        user: fc.constantFrom('u1', 'u2', 'u3'),
        // quarter hours from 2025-03-01 local over ~12 days (equal times happen)
        q: fc.integer({ min: 0, max: 12 * 24 * 4 }),
        amount: fc.option(fc.integer({ min: -5, max: 60 }), { nil: null }),
        status: fc.constantFrom('a', 'b', 'c'),
        lag: fc.option(fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 6 * 24 * 4 })), {
          nil: null,
        }),
      });
      const label = fc.record({
        user: fc.constantFrom('u1', 'u2', 'u3', 'nobody'),
        q: fc.integer({ min: 0, max: 13 * 24 * 4 }),
      });
      const at = (q: number) => new Date(Date.UTC(2025, 2, 1, 0, q * 15)).toISOString().slice(0, 19);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...ZONES),
          fc.boolean(),
          fc.constantFrom(...FEATURE_SETS),
          fc.array(event, { minLength: 1, maxLength: 80 }),
          fc.array(label, { minLength: 1, maxLength: 20 }),
          async (tz, arrival, features, events, labels) => {
            let yaml = spec({
              timezone: tz,
              columns: EVENT_COLUMNS,
              features,
            });
            if (arrival) yaml = withArrival(yaml);
            const dir = makeProject({
              'asof.yaml': yaml,
              'data/events.csv': [
                'user_id,event_ts,amount,status,ing',
                ...events.map(
                  (e) =>
                    `${e.user},${at(e.q)},${e.amount ?? ''},${e.status},${e.lag === null ? '' : at(e.q + e.lag)}`,
                ),
              ].join('\n'),
              // a duplicated row and label times on event times
              'labels.csv': [
                'user_id,label_ts',
                ...labels.map((l) => `${l.user},${at(l.q)}`),
                `${labels[0]?.user},${at(labels[0]?.q ?? 0)}`,
                ...events.slice(0, 3).map((e) => `${e.user},${at(e.q)}`),
              ].join('\n'),
            });
            const fast = await trainingRows(dir, { labels: 'labels.csv', out: 'fast.parquet', plan });
            const naive = await trainingRows(dir, {
              labels: 'labels.csv',
              out: 'naive.parquet',
              naive: true,
            });
            expect(fast.length).toBe(labels.length + 1 + Math.min(3, events.length));
            expect(naive.length).toBe(fast.length);
            fast.forEach((row, i) => {
              for (const name of ['user_id', 'label_ts', ...Object.keys(features)]) {
                const want = naive[i]?.[name];
                if (!close(row[name], want) && String(row[name]) !== String(want)) {
                  throw new Error(
                    `${tz} arrival=${arrival} row ${i} (${String(row.user_id)} at ${String(row.label_ts)}) ${name}: exact ${String(row[name])}, straightforward ${String(want)}`,
                  );
                }
              }
            });
          },
        ),
        { numRuns: 12, seed: 5, endOnFailure: true },
      );
    },
    180_000,
  );
});
