// Parity properties: (1) a label at a partition's cutoff sees exactly the features `asof build`
// wrote for that date, over random data, specs and timezones; (2) the SQL window start equals
// time/windowStart for any instant, DST gaps and overlaps included.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { windowStartSql } from '../../src/engines/duckdb/training-set-sql.js';
import { cutoffInstant, formatInstant, type Window, windowStart } from '../../src/time/index.js';
import { buildRowsIn } from '../support/build.js';
import { makeProject, spec } from '../support/project.js';
import { close, EVENT_COLUMNS, trainingRows, withArrival } from './support.js';

const ZONES = ['UTC', 'America/New_York', 'Europe/Paris', 'Australia/Lord_Howe'];
const WINDOWS = ['12h', '1d', '3d', '7d', 'all'];
const KINDS = [
  'count',
  'count_col',
  'sum',
  'avg',
  'min',
  'max',
  'exists',
  'count_distinct',
  'last',
  'first',
  'stddev',
  'days_since_last',
  'as_of',
];

function featureSpec(kind: string, window: string): string {
  if (kind === 'count_col') return `{ agg: count, column: amount, window: ${window} }`;
  if (['count', 'exists', 'days_since_last'].includes(kind)) return `{ agg: ${kind}, window: ${window} }`;
  return `{ agg: ${kind}, column: amount, window: ${window} }`;
}

describe('training set = build at the cutoff', () => {
  it('for random data and specs, a label at D+1 00:00 local (end_of_day) or D 00:00 (start_of_day) equals the partition of D', async () => {
    const event = fc.record({
      user: fc.constantFrom('u1', 'u2', 'u3'),
      // minutes from 2025-03-01 00:00 local over ~45 days (spans the March DST changes)
      minute: fc.integer({ min: 0, max: 45 * 24 * 60 }),
      amount: fc.option(fc.integer({ min: -50, max: 500 }), { nil: null }),
      ok: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ZONES),
        fc.constantFrom('end_of_day', 'start_of_day'),
        fc.boolean(),
        fc.array(fc.tuple(fc.constantFrom(...KINDS), fc.constantFrom(...WINDOWS)), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.array(event, { minLength: 10, maxLength: 120 }),
        fc.integer({ min: 8, max: 44 }),
        async (tz, cutoff, withWhere, feats, events, day) => {
          const features = Object.fromEntries(feats.map(([k, w], i) => [`f${i}_${k}`, featureSpec(k, w)]));
          const rows = events.map((e) => {
            const d = new Date(Date.UTC(2025, 2, 1, 0, e.minute));
            const local = d.toISOString().slice(0, 19); // naive: local to the project timezone
            return `${e.user},${local},${e.amount ?? ''},${e.ok ? 'success' : 'failed'}`;
          });
          const dir = makeProject({
            'asof.yaml': spec({
              timezone: tz,
              cutoff,
              features,
              where: withWhere ? "status = 'success'" : undefined,
            }),
            'data/events.csv': ['user_id,event_ts,amount,status', ...rows].join('\n') + '\n',
          });
          const asOf = new Date(Date.UTC(2025, 2, 1 + day)).toISOString().slice(0, 10);
          const partition = await buildRowsIn(dir, asOf);
          const t = formatInstant(cutoffInstant(asOf, cutoff, tz));
          const users = ['u1', 'u2', 'u3', 'nobody'];
          const { writeFileSync } = await import('node:fs');
          writeFileSync(
            `${dir}/labels.csv`,
            ['user_id,label_ts', ...users.map((u) => `${u},${t}`)].join('\n') + '\n',
          );
          const out = await trainingRows(dir, { labels: 'labels.csv' });
          expect(out.length).toBe(users.length);
          for (const [i, u] of users.entries()) {
            const got = out[i] ?? {};
            const want = partition.find((r) => r.user_id === u);
            for (const [name, def] of Object.entries(features)) {
              const kind = /agg: (\w+)/.exec(def)?.[1];
              const empty = ['count', 'sum', 'count_distinct'].includes(kind ?? '')
                ? 0
                : kind === 'exists'
                  ? false
                  : null;
              const expected = want ? want[name] : empty;
              if (!close(got[name], expected)) {
                throw new Error(
                  `${tz} ${cutoff} as of ${asOf}, user ${u}, ${name} ${def}: training set ${String(got[name])}, partition ${String(expected)}`,
                );
              }
            }
          }
        },
      ),
      { numRuns: 30, seed: 20250305, endOnFailure: true },
    );
  }, 120_000);
});

describe('SQL window start = time/windowStart', () => {
  let engine: DuckDbEngine;
  beforeAll(async () => {
    engine = await DuckDbEngine.open({ threads: 1 });
  });
  afterAll(async () => {
    await engine.close();
  });

  it('for any instant and Nd / Nh window, in zones with DST gaps and overlaps', async () => {
    // Instants near the 2025 transitions (New York, Paris, Lord Howe's 30-minute shift) and anywhere.
    const near = [
      Date.UTC(2025, 2, 9, 7),
      Date.UTC(2025, 10, 2, 6),
      Date.UTC(2025, 2, 30, 1),
      Date.UTC(2025, 9, 26, 1),
      Date.UTC(2025, 3, 5, 15),
      Date.UTC(2025, 9, 4, 15, 30),
    ];
    const instant = fc.oneof(
      fc
        .tuple(fc.constantFrom(...near), fc.integer({ min: -40, max: 40 * 24 * 4 }))
        .map(([b, q]) => b + q * 15 * 60_000),
      fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }),
    );
    const windows: Window[] = [
      { kind: 'days', n: 1 },
      { kind: 'days', n: 7 },
      { kind: 'days', n: 30 },
      { kind: 'hours', n: 24 },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(instant, { minLength: 50, maxLength: 50 }),
        fc.constantFrom(...ZONES),
        async (ts, tz) => {
          const exprs = windows.map((w, i) => `epoch_ms(${windowStartSql('t', w, tz)}) AS w${i}`);
          const r = await engine.query(
            `SELECT epoch_ms(t) AS t, ${exprs.join(', ')} FROM (SELECT make_timestamptz(unnest([${ts.join(', ')}]::BIGINT[]) * 1000) AS t)`,
          );
          for (const row of r.rows) {
            const t = Number(row[0]);
            windows.forEach((w, i) => {
              expect([tz, formatInstant(t), w, Number(row[i + 1])]).toEqual([
                tz,
                formatInstant(t),
                w,
                windowStart(t, w, tz),
              ]);
            });
          }
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });
});

describe('running totals = range join, with late-arriving rows', () => {
  it.each(['rows', 'points'] as const)(
    'by %s: for random events, arrival lags (some longer than the windows) and label times, both plans agree',
    async (unit) => {
      const event = fc.record({
        user: fc.constantFrom('u1', 'u2'),
        minute: fc.integer({ min: 0, max: 20 * 24 * 60 }),
        // arrival lag in minutes: mostly small, sometimes days, sometimes unknown (NULL)
        lag: fc.option(fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 12 * 24 * 60 })), {
          nil: null,
        }),
        amount: fc.option(fc.integer({ min: -5, max: 100 }), { nil: null }),
      });
      const label = fc.record({
        user: fc.constantFrom('u1', 'u2', 'u3'),
        minute: fc.integer({ min: 0, max: 22 * 24 * 60 }),
      });
      const at = (m: number) => new Date(Date.UTC(2025, 2, 1, 0, m)).toISOString().slice(0, 19);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...ZONES),
          fc.array(event, { minLength: 5, maxLength: 60 }),
          fc.array(label, { minLength: 1, maxLength: 15 }),
          async (tz, events, labels) => {
            const yaml = withArrival(
              spec({
                timezone: tz,
                columns: EVENT_COLUMNS,
                features: {
                  n1d: '{ agg: count, window: 1d }',
                  c3d: '{ agg: count, column: amount, window: 3d }',
                  s12h: '{ agg: sum, column: amount, window: 12h }',
                  a7d: '{ agg: avg, column: amount, window: 7d }',
                  eall: '{ agg: exists, window: all }',
                  sall: '{ agg: sum, column: amount, window: all }',
                },
              }),
            );
            const dir = makeProject({
              'asof.yaml': yaml,
              'data/events.csv': [
                'user_id,event_ts,amount,status,ing',
                ...events.map(
                  (e) =>
                    `${e.user},${at(e.minute)},${e.amount ?? ''},success,${e.lag === null ? '' : at(e.minute + e.lag)}`,
                ),
              ].join('\n'),
              'labels.csv': ['user_id,label_ts', ...labels.map((l) => `${l.user},${at(l.minute)}`)].join(
                '\n',
              ),
            });
            const fast = await trainingRows(dir, {
              labels: 'labels.csv',
              out: 'fast.parquet',
              runningTotals: true,
              plan: { unit },
            });
            const ref = await trainingRows(dir, {
              labels: 'labels.csv',
              out: 'ref.parquet',
              reference: true,
            });
            expect(fast).toEqual(ref);
          },
        ),
        { numRuns: 15, seed: 99, endOnFailure: true },
      );
    },
    120_000,
  );
});
