// Pins the semantics written in the README: cutoffs, windows, timezones, population, nulls and
// every aggregation kind, on real DuckDB and real Parquet partitions.

import { describe, expect, it } from 'vitest';
import { buildRows } from '../support/build.js';
import { spec } from '../support/project.js';

const csv = (rows: string[]) => ['user_id,event_ts,amount,status', ...rows].join('\n') + '\n';

describe('cutoffs', () => {
  const events = csv([
    'u1,2025-01-10T23:59:59,1,success', // last second of D: visible at end_of_day
    'u1,2025-01-11T00:00:00,100,success', // exactly the end_of_day cutoff: excluded
    'u2,2025-01-09T23:59:59,1,success', // visible at start_of_day of D
    'u2,2025-01-10T00:00:00,100,success', // exactly the start_of_day cutoff: excluded
  ]);
  it('end_of_day covers events before D+1 00:00 local, the cutoff itself excluded', async () => {
    const rows = await buildRows(
      {
        'asof.yaml': spec({
          features: { n: '{ agg: count, window: all }', s: '{ agg: sum, column: amount, window: all }' },
        }),
        'data/events.csv': events,
      },
      '2025-01-10',
    );
    expect(rows).toEqual([
      { user_id: 'u1', as_of_date: '2025-01-10T00:00:00.000Z', n: 1, s: 1 },
      { user_id: 'u2', as_of_date: '2025-01-10T00:00:00.000Z', n: 2, s: 101 },
    ]);
  });
  it('start_of_day covers events before D 00:00 local; an entity with only later events is absent', async () => {
    const rows = await buildRows(
      {
        'asof.yaml': spec({ cutoff: 'start_of_day', features: { n: '{ agg: count, window: all }' } }),
        'data/events.csv': events,
      },
      '2025-01-10',
    );
    expect(rows.map((r) => [r.user_id, r.n])).toEqual([['u2', 1]]);
  });
});

describe('windows', () => {
  it('Nd starts N calendar days before the cutoff: the start is included, a second before is not', async () => {
    const rows = await buildRows(
      {
        'asof.yaml': spec({
          features: {
            n7: '{ agg: count, window: 7d }',
            n1: '{ agg: count, window: 1d }',
            n24: '{ agg: count, window: 24h }',
          },
        }),
        'data/events.csv': csv([
          'u1,2025-01-04T00:00:00,1,success', // exactly the 7d start (as of 01-10, end_of_day)
          'u1,2025-01-03T23:59:59,1,success', // one second before it
          'u1,2025-01-10T00:00:00,1,success', // exactly the 1d / 24h start
          'u1,2025-01-09T23:59:59,1,success',
        ]),
      },
      '2025-01-10',
    );
    expect(rows).toMatchObject([{ user_id: 'u1', n7: 3, n1: 1, n24: 1 }]);
  });

  it('a DST day is 23 hours long for Nd windows but Nh windows are exact hours (America/New_York)', async () => {
    // 2025-03-09 is the spring-forward day in New York: local midnight 03-09 is 05:00Z, 03-10 is 04:00Z.
    const rows = await buildRows(
      {
        'asof.yaml': spec({
          timezone: 'America/New_York',
          features: { n1d: '{ agg: count, window: 1d }', n24h: '{ agg: count, window: 24h }' },
        }),
        'data/events.csv': csv([
          'u1,2025-03-09T00:30:00,1,success', // local, inside both windows
          'u1,2025-03-08T23:30:00,1,success', // local: before the 1d start, inside the 24h window (starts 23:00 EST)
          'u1,2025-03-09T23:59:00,1,success', // local, last minute of the day
          'u1,2025-03-10T00:00:00,1,success', // the cutoff: excluded from both
        ]),
      },
      '2025-03-09',
    );
    expect(rows).toMatchObject([{ user_id: 'u1', n1d: 2, n24h: 3 }]);
  });

  it('a fall-back DST day is 25 hours long (Europe/Paris, 2025-10-26)', async () => {
    const rows = await buildRows(
      {
        'asof.yaml': spec({
          timezone: 'Europe/Paris',
          features: { n1d: '{ agg: count, window: 1d }', n24h: '{ agg: count, window: 24h }' },
        }),
        'data/events.csv': csv([
          'u1,2025-10-26T00:30:00,1,success', // local 00:30 CEST = 22:30Z the day before: in 1d, not in 24h
          'u1,2025-10-26T12:00:00,1,success',
        ]),
      },
      '2025-10-26',
    );
    expect(rows).toMatchObject([{ n1d: 2, n24h: 1 }]);
  });

  it('timestamps with an offset are converted; without one they are local to the project timezone', async () => {
    const rows = await buildRows(
      {
        'asof.yaml': spec({ timezone: 'Europe/Paris', features: { n: '{ agg: count, window: all }' } }),
        'data/events.csv': csv([
          'u1,2025-01-10T23:30:00Z,1,success', // 00:30 on 01-11 in Paris: after the cutoff
          'u1,2025-01-10T23:30:00,1,success', // local: before the cutoff
          'u1,2025-01-11T01:00:00+05:00,1,success', // 2025-01-10T20:00Z = 21:00 Paris: visible
        ]),
      },
      '2025-01-10',
    );
    expect(rows).toMatchObject([{ user_id: 'u1', n: 2 }]);
  });
});

describe('population and empty windows', () => {
  it('an entity with rows only outside a window gets 0 / false / NULL by kind; where-filtered entities are absent', async () => {
    const rows = await buildRows(
      {
        'asof.yaml': spec({
          where: "status = 'success'",
          features: {
            n: '{ agg: count, window: 7d }',
            s: '{ agg: sum, column: amount, window: 7d }',
            cd: '{ agg: count_distinct, column: amount, window: 7d }',
            e: '{ agg: exists, window: 7d }',
            a: '{ agg: avg, column: amount, window: 7d }',
            mn: '{ agg: min, column: amount, window: 7d }',
            mx: '{ agg: max, column: amount, window: 7d }',
            l: '{ agg: last, column: amount, window: 7d }',
            f: '{ agg: first, column: amount, window: 7d }',
            sd: '{ agg: stddev, column: amount, window: 7d }',
            d: '{ agg: days_since_last, window: 7d }',
          },
        }),
        'data/events.csv': csv([
          'u_old,2024-12-01T10:00:00,5,success', // only outside the window
          'u_failed,2025-01-09T10:00:00,5,failed', // filtered out by where: absent
          'u_future,2025-01-12T10:00:00,5,success', // only after the cutoff: absent
        ]),
      },
      '2025-01-10',
    );
    expect(rows).toEqual([
      {
        user_id: 'u_old',
        as_of_date: '2025-01-10T00:00:00.000Z',
        n: 0,
        s: 0,
        cd: 0,
        e: false,
        a: null,
        mn: null,
        mx: null,
        l: null,
        f: null,
        sd: null,
        d: null,
      },
    ]);
  });
});

describe('aggregations', () => {
  const files = {
    'asof.yaml': spec({
      features: {
        n: '{ agg: count, window: all }',
        n_amount: '{ agg: count, column: amount, window: all }',
        s: '{ agg: sum, column: amount, window: all }',
        a: '{ agg: avg, column: amount, window: all }',
        mn: '{ agg: min, column: amount, window: all }',
        mx: '{ agg: max, column: amount, window: all }',
        e: '{ agg: exists, window: all }',
        cd: '{ agg: count_distinct, column: status, window: all }',
        l: '{ agg: last, column: amount, window: all }',
        f: '{ agg: first, column: amount, window: all }',
        sd: '{ agg: stddev, column: amount, window: all }',
        d: '{ agg: days_since_last, window: all }',
        big: "{ agg: sum, column: 'CASE WHEN amount > 10 THEN 1 ELSE 0 END', window: all }",
      },
    }),
    'data/events.csv': csv([
      'u1,2025-01-01T10:00:00,10,success',
      'u1,2025-01-01T10:00:00,30,success', // same time as the first: first/last ties go to the greater value
      'u1,2025-01-05T08:00:00,,failed', // NULL amount: ignored by sum/avg/min/max/count(column), still a row
      'u1,2025-01-07T09:00:00,20,success',
      'u1,2025-01-07T09:00:00,5,success', // ties with the previous: last = 20
      'u2,2025-01-10T23:00:00,7,success', // one value: stddev NULL; days_since_last 0
      'u3,2025-01-02T00:00:00,,success', // only NULL amounts: sum 0, avg NULL, count(amount) 0
    ]),
  };

  it('computes every kind with its null and tie rules', async () => {
    const rows = await buildRows(files, '2025-01-10');
    const byUser = Object.fromEntries(rows.map((r) => [r.user_id, r]));
    expect(byUser.u1).toMatchObject({
      n: 5,
      n_amount: 4,
      s: 65,
      a: 16.25,
      mn: 5,
      mx: 30,
      e: true,
      cd: 2,
      l: 20,
      f: 30,
      d: 3,
      big: 2,
    });
    expect(byUser.u1?.sd).toBeCloseTo(
      Math.sqrt(((10 - 16.25) ** 2 + (30 - 16.25) ** 2 + (20 - 16.25) ** 2 + (5 - 16.25) ** 2) / 3),
      12,
    );
    expect(byUser.u2).toMatchObject({ n: 1, n_amount: 1, s: 7, a: 7, l: 7, f: 7, sd: null, d: 0, big: 0 });
    expect(byUser.u3).toMatchObject({
      n: 1,
      n_amount: 0,
      s: 0,
      a: null,
      mn: null,
      mx: null,
      l: null,
      f: null,
      d: 8,
      e: true,
    });
  });

  it('writes stable column types: count BIGINT, avg DOUBLE, exists BOOLEAN, sum of int BIGINT', async () => {
    const { loadProject } = await import('../../src/pipeline/project.js');
    const { build } = await import('../../src/pipeline/build.js');
    const { makeProject } = await import('../support/project.js');
    const dir = makeProject({
      'asof.yaml': spec({
        columns: { user_id: 'string', event_ts: 'timestamp', qty: 'int', status: 'string' },
        features: {
          n: '{ agg: count, window: all }',
          s: '{ agg: sum, column: qty, window: all }',
          a: '{ agg: avg, column: qty, window: all }',
          e: '{ agg: exists, window: 1d }',
          m: '{ agg: max, column: qty, window: all }',
        },
      }),
      'data/events.csv': 'user_id,event_ts,qty,status\nu1,2025-01-01T00:00:00,3,success\n',
    });
    const project = await loadProject(dir);
    const [b] = await build(project, { asOf: '2025-01-10' });
    const { readManifest } = await import('../../src/storage/lake/manifest.js');
    const m = readManifest(b!.dir);
    expect(m?.columns).toEqual([
      { name: 'user_id', type: 'VARCHAR' },
      { name: 'as_of_date', type: 'DATE' },
      { name: 'n', type: 'BIGINT' },
      { name: 's', type: 'BIGINT' },
      { name: 'a', type: 'DOUBLE' },
      { name: 'e', type: 'BOOLEAN' },
      { name: 'm', type: 'BIGINT' },
    ]);
  });

  it('deduplicates rows repeating the primary key, keeping the last', async () => {
    const rows = await buildRows(
      {
        'asof.yaml': spec({
          columns: { id: 'string', user_id: 'string', event_ts: 'timestamp', amount: 'double' },
          primaryKey: 'id',
          features: { n: '{ agg: count, window: all }', s: '{ agg: sum, column: amount, window: all }' },
        }),
        'data/events.csv':
          'id,user_id,event_ts,amount\nt1,u1,2025-01-01T00:00:00,10\nt2,u1,2025-01-02T00:00:00,5\nt1,u1,2025-01-01T00:00:00,12\n',
      },
      '2025-01-10',
    );
    expect(rows).toMatchObject([{ user_id: 'u1', n: 2, s: 17 }]);
  });
});
