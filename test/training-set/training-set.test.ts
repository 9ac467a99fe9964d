// Pins the point-in-time rules of `asof training-set`: labels see only events strictly before t,
// calendar-day windows in the project timezone, the empty values, duplicates and order kept,
// the ingested_at rule, and partitions mode.

import { describe, expect, it } from 'vitest';
import { build } from '../../src/pipeline/build.js';
import { loadProject } from '../../src/pipeline/project.js';
import { choosePointUnit } from '../../src/pipeline/training-set.js';
import { makeProject, spec } from '../support/project.js';
import { trainingRows } from './support.js';

const csv = (rows: string[]) => ['user_id,event_ts,amount,status', ...rows].join('\n') + '\n';
const labels = (rows: string[]) => ['user_id,label_ts,y', ...rows].join('\n') + '\n';
const features = {
  n: '{ agg: count, window: all }',
  n7: '{ agg: count, window: 7d }',
  s7: '{ agg: sum, column: amount, window: 7d }',
  a7: '{ agg: avg, column: amount, window: 7d }',
  mx: '{ agg: max, column: amount, window: 7d }',
  ex: '{ agg: exists, window: 24h }',
  l: '{ agg: last, column: amount, window: all }',
  d: '{ agg: days_since_last, window: all }',
};

describe('training-set exact mode', () => {
  it('a label exactly at an event time does not see that event; one a microsecond later does', async () => {
    const dir = makeProject({
      'asof.yaml': spec({ features }),
      'data/events.csv': csv(['u1,2025-01-10T12:00:00,5,success', 'u1,2025-01-08T12:00:00,1,success']),
      'labels.csv': labels(['u1,2025-01-10T12:00:00,1', 'u1,2025-01-10T12:00:00.000001,0']),
    });
    const rows = await trainingRows(dir, { labels: 'labels.csv' });
    expect(rows.map((r) => [r.n, r.n7, r.s7, r.a7, r.mx, r.ex, r.l, r.d])).toEqual([
      [1, 1, 1, 1, 1, false, 1, 2],
      [2, 2, 6, 3, 5, true, 5, 0],
    ]);
  });

  it('keeps every label row in order with duplicates, and gives no-history users 0 counts and NULL averages', async () => {
    const dir = makeProject({
      'asof.yaml': spec({ features }),
      'data/events.csv': csv(['u1,2025-01-09T00:00:00,10,success', 'u2,2025-02-01T00:00:00,3,success']),
      'labels.csv': labels([
        'u2,2025-01-10T00:00:00,a', // u2 has only later events
        'u1,2025-01-10T00:00:00,b',
        'u9,2025-01-10T00:00:00,c', // never seen
        'u1,2025-01-10T00:00:00,b', // duplicate
        ',2025-01-10T00:00:00,d', // no key at all
      ]),
    });
    const rows = await trainingRows(dir, { labels: 'labels.csv' });
    expect(rows.map((r) => r.y)).toEqual(['a', 'b', 'c', 'b', 'd']);
    const empty = { n: 0, n7: 0, s7: 0, a7: null, mx: null, ex: false, l: null, d: null };
    expect(rows[0]).toMatchObject({ user_id: 'u2', ...empty });
    expect(rows[2]).toMatchObject({ user_id: 'u9', ...empty });
    expect(rows[4]).toMatchObject({ user_id: null, ...empty });
    expect(rows[1]).toMatchObject({ user_id: 'u1', n: 1, s7: 10, a7: 10, ex: true, d: 0 });
    expect(rows[3]).toEqual(rows[1]);
  });

  it('computes per distinct point when labels repeat a quarter or more of their points, else per label row: same rows', async () => {
    expect(choosePointUnit(1_000_000, 1_000_000)).toBe('rows');
    expect(choosePointUnit(1_000_000, 760_000)).toBe('rows');
    expect(choosePointUnit(1_000_000, 740_000)).toBe('points');
    expect(choosePointUnit(0, 0)).toBe('rows');
    const dir = makeProject({
      'asof.yaml': spec({ features }),
      'data/events.csv': csv([
        'u1,2025-01-09T00:00:00,10,success',
        'u1,2025-01-03T00:00:00,4,success',
        'u2,2025-01-09T12:00:00,3,success',
      ]),
      // 12 rows, 3 distinct points: the product takes the points
      'labels.csv': labels([
        ...Array.from({ length: 5 }, (_, i) => `u1,2025-01-10T00:00:00,a${i}`),
        ...Array.from({ length: 5 }, (_, i) => `u2,2025-01-10T00:00:00,b${i}`),
        'u1,2025-01-05T00:00:00,c',
        'u1,2025-01-10T00:00:00,d',
      ]),
    });
    const chosen = await trainingRows(dir, { labels: 'labels.csv' });
    const byRow = await trainingRows(dir, {
      labels: 'labels.csv',
      out: 'rows.parquet',
      plan: { unit: 'rows' },
    });
    const naive = await trainingRows(dir, { labels: 'labels.csv', out: 'naive.parquet', naive: true });
    expect(chosen.map((r) => r.y)).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `a${i}`),
      ...Array.from({ length: 5 }, (_, i) => `b${i}`),
      'c',
      'd',
    ]);
    expect(chosen).toEqual(naive);
    expect(byRow).toEqual(naive);
    expect(chosen[0]).toMatchObject({ n: 2, n7: 2, s7: 14, ex: true, l: 10, d: 0 });
    expect(chosen[10]).toMatchObject({ n: 1, n7: 1, s7: 4, ex: false, l: 4, d: 1 });
  });

  it('future events added to the source change no output row', async () => {
    const base = [
      'u1,2025-01-09T10:00:00,10,success',
      'u2,2025-01-05T00:00:00,4,success',
      'u1,2025-01-20T00:00:00,7,success',
    ];
    const lab = labels(['u1,2025-01-10T00:00:00,1', 'u2,2025-01-12T08:00:00,0', 'u1,2025-01-21T00:00:00,1']);
    const before = await trainingRows(
      makeProject({ 'asof.yaml': spec({ features }), 'data/events.csv': csv(base), 'labels.csv': lab }),
      { labels: 'labels.csv' },
    );
    // Events at or after each user's last label time, including exactly at it.
    const future = [
      'u2,2025-01-12T08:00:00,1000,success',
      'u2,2025-01-30T00:00:00,1000,success',
      'u1,2025-01-21T00:00:00,1000,success',
      'u1,2026-01-01T00:00:00,1000,success',
    ];
    const dir = makeProject({
      'asof.yaml': spec({ features }),
      'data/events.csv': csv([...base, ...future]),
      'labels.csv': lab,
    });
    const after = await trainingRows(dir, { labels: 'labels.csv' });
    expect(after).toEqual(before);
  });

  it('days are calendar days in the project timezone across DST; label times without offset are local', async () => {
    // 2025-03-09 is spring-forward in New York. Label at 03-10 00:00 local (04:00Z): the 1d window
    // starts 03-09 00:00 local (05:00Z), 23 hours earlier; 24h starts 03-09 04:00Z (= 03-08 23:00 EST).
    const dir = makeProject({
      'asof.yaml': spec({
        timezone: 'America/New_York',
        features: {
          n1d: '{ agg: count, window: 1d }',
          n24h: '{ agg: count, window: 24h }',
          d: '{ agg: days_since_last, window: all }',
        },
      }),
      'data/events.csv': csv([
        'u1,2025-03-09T00:30:00,1,success',
        'u1,2025-03-08T23:30:00,1,success',
        'u1,2025-03-09T23:59:00,1,success',
        'u1,2025-03-10T00:00:00,1,success',
      ]),
      'labels.csv': labels([
        'u1,2025-03-10T00:00:00,1',
        'u1,2025-03-10T04:00:00Z,1',
        'u1,2025-03-10T05:00:00+01:00,1',
      ]),
    });
    const rows = await trainingRows(dir, { labels: 'labels.csv' });
    expect(rows.map((r) => [r.n1d, r.n24h, r.d])).toEqual([
      [2, 3, 0],
      [2, 3, 0],
      [2, 3, 0],
    ]);
  });

  it('on a 25-hour day the 1d window starts before the 24h window: neither bounds the join alone', async () => {
    // 2025-11-02 is fall-back in New York. Label at 11-02 12:00 local: 1d starts 11-01 12:00 local,
    // 25 hours earlier; 24h starts 11-01 13:00 local. The event at 11-01 12:30 is in 1d only.
    const dir = makeProject({
      'asof.yaml': spec({
        timezone: 'America/New_York',
        features: { n1d: '{ agg: count, window: 1d }', n24h: '{ agg: count, window: 24h }' },
      }),
      'data/events.csv': csv([
        'u1,2025-11-01T11:30:00,1,success',
        'u1,2025-11-01T12:30:00,1,success',
        'u1,2025-11-01T13:30:00,1,success',
      ]),
      'labels.csv': labels(['u1,2025-11-02T12:00:00,1']),
    });
    for (const unit of ['rows', 'points'] as const) {
      const rows = await trainingRows(dir, { labels: 'labels.csv', out: `${unit}.parquet`, plan: { unit } });
      expect(rows.map((r) => [r.n1d, r.n24h])).toEqual([[2, 1]]);
    }
  });

  it('with ingested_at, a row counts only once arrived before t, unless --ignore-arrival', async () => {
    const files = {
      'asof.yaml': spec({
        columns: {
          user_id: 'string',
          event_ts: 'timestamp',
          amount: 'double',
          status: 'string',
          ing: 'timestamp',
        },
        features: {
          n: '{ agg: count, window: all }',
          s: '{ agg: sum, column: amount, window: 7d }',
          mx: '{ agg: max, column: amount, window: all }',
        },
      }).replace('    timestamp: event_ts\n', '    timestamp: event_ts\n    ingested_at: ing\n'),
      'data/events.csv': [
        'user_id,event_ts,amount,status,ing',
        'u1,2025-01-09T10:00:00,1,success,2025-01-09T10:05:00',
        'u1,2025-01-09T11:00:00,50,success,2025-01-12T00:00:00', // arrives late
        'u1,2025-01-09T12:00:00,2,success,',
      ].join('\n'),
      'labels.csv': labels([
        'u1,2025-01-10T00:00:00,1',
        'u1,2025-01-12T00:00:00,1',
        'u1,2025-01-12T00:00:01,1',
      ]),
    };
    const known = await trainingRows(makeProject(files), { labels: 'labels.csv' });
    expect(known.map((r) => [r.n, r.s, r.mx])).toEqual([
      [2, 3, 2],
      [2, 3, 2],
      [3, 53, 50],
    ]);
    const ignored = await trainingRows(makeProject(files), { labels: 'labels.csv', ignoreArrival: true });
    expect(ignored.map((r) => [r.n, r.s])).toEqual([
      [3, 53],
      [3, 53],
      [3, 53],
    ]);
  });

  it('reads jsonl and parquet labels and writes csv; full names avoid a clash between views', async () => {
    const yaml = spec({ features: { n: '{ agg: count, window: all }' } }).replace(
      'views:\n',
      'views:\n  w:\n    entity: user\n    source: events\n    version: 1\n    features:\n      n: { agg: sum, column: amount, window: all }\n',
    );
    const dir = makeProject({
      'asof.yaml': yaml,
      'data/events.csv': csv(['u1,2025-01-09T00:00:00,10,success']),
      'labels.jsonl':
        '{"user_id":"u1","label_ts":"2025-01-10T00:00:00"}\n{"user_id":"u1","label_ts":"2025-01-01T00:00:00"}\n',
    });
    await expect(trainingRows(dir, { labels: 'labels.jsonl' })).rejects.toMatchObject({
      hint: expect.stringMatching(/--full-names/),
    });
    const rows = await trainingRows(dir, { labels: 'labels.jsonl', fullNames: true, out: 'out.csv' });
    expect(rows.map((r) => [r.v__n, r.w__n])).toEqual([
      [1, 10],
      [0, 0],
    ]);
  });
});

describe('training-set --mode partitions', () => {
  it('takes the latest partition whose cutoff is at or before t; before the first, NULL', async () => {
    const dir = makeProject({
      'asof.yaml': spec({
        features: { n: '{ agg: count, window: all }', a: '{ agg: avg, column: amount, window: all }' },
      }),
      'data/events.csv': csv([
        'u1,2025-01-09T10:00:00,1,success',
        'u1,2025-01-10T10:00:00,3,success',
        'u2,2025-01-10T11:00:00,5,success',
      ]),
      'labels.csv': labels([
        'u1,2025-01-09T12:00:00,1', // before the first cutoff (01-10 00:00)
        'u1,2025-01-10T00:00:00,1', // exactly the cutoff of 01-09
        'u2,2025-01-10T23:00:00,1', // partition 01-09, u2 not in it: empty values
        'u1,2025-01-15T00:00:00,1', // latest: 01-10
      ]),
    });
    const project = await loadProject(dir);
    await build(project, { asOf: '2025-01-09' });
    await build(project, { asOf: '2025-01-10' });
    const rows = await trainingRows(dir, { labels: 'labels.csv', mode: 'partitions' });
    expect(rows.map((r) => [r.n, r.a])).toEqual([
      [null, null],
      [1, 1],
      [0, null],
      [2, 2],
    ]);
  });
});
