// Spark training-set parity: `asof training-set --engine spark` (exact mode) writes the rows,
// columns and column types DuckDB writes, for a hand-made case (a label at an event time, DST,
// duplicated labels, an entity without history, the arrival rule) and random specs and labels.
// One SparkSession (one Python driver) serves the in-process tests of this file.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { SparkEngine } from '../../src/engines/spark/engine.js';
import { loadProject } from '../../src/pipeline/project.js';
import { trainingSet } from '../../src/pipeline/training-set.js';
import { type Obj, toObjects } from '../support/build.js';
import { makeProject, runCli, tempDir } from '../support/project.js';

let spark: SparkEngine;

beforeAll(async () => {
  spark = await SparkEngine.open({ conf: { 'spark.sql.shuffle.partitions': 2 } });
}, 180_000);

afterAll(async () => {
  await spark?.close();
});

interface Output {
  columns: { name: string; type: string }[];
  rows: Obj[];
}

async function readOutput(file: string): Promise<Output> {
  const engine = await DuckDbEngine.open({ threads: 1 });
  try {
    const described = await engine.query(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
    const r = await engine.query(`SELECT * FROM read_parquet('${file}')`);
    return {
      columns: described.rows.map((d) => ({ name: String(d[0]), type: String(d[1]) })),
      rows: toObjects(r.columns, r.rows),
    };
  } finally {
    await engine.close();
  }
}

/** The training set of the project in `dir` on one engine. */
async function trainOn(
  engine: 'duckdb' | 'spark',
  dir: string,
  opts: { ignoreArrival?: boolean } = {},
): Promise<Output> {
  const project = await loadProject(dir);
  const out = path.join(tempDir('asof-ts-'), `${engine}.parquet`);
  await trainingSet(project, {
    labels: path.join(dir, 'labels.csv'),
    timeColumn: 'label_ts',
    out,
    ...opts,
    ...(engine === 'spark' ? { using: spark } : {}),
  });
  return readOutput(out);
}

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

/** Where Spark's output differs from DuckDB's, or undefined. */
function difference(duck: Output, sp: Output): string | undefined {
  if (JSON.stringify(sp.columns) !== JSON.stringify(duck.columns))
    return `columns ${JSON.stringify(sp.columns)}, duckdb ${JSON.stringify(duck.columns)}`;
  if (sp.rows.length !== duck.rows.length) return `${sp.rows.length} rows, duckdb ${duck.rows.length}`;
  for (const [i, want] of duck.rows.entries()) {
    const got = sp.rows[i] ?? {};
    for (const c of duck.columns) {
      if (!close(got[c.name], want[c.name]))
        return `row ${i + 1} ${c.name}: spark ${String(got[c.name])}, duckdb ${String(want[c.name])}`;
    }
  }
  return undefined;
}

const ALL_KINDS = {
  n: '{ agg: count, window: 1d }',
  n_amt_7d: '{ agg: count, column: amount, window: 7d }',
  total_12h: '{ agg: sum, column: amount, window: 12h }',
  mean_all: '{ agg: avg, column: amount, window: all }',
  lo: '{ agg: min, column: amount, window: 7d }',
  hi: '{ agg: max, column: status, window: 1d }',
  any: '{ agg: exists, window: 1d }',
  kinds: '{ agg: count_distinct, column: status, window: 7d }',
  latest: '{ agg: last, column: amount, window: all }',
  earliest: '{ agg: first, column: amount, window: 7d }',
  sd: '{ agg: stddev, column: amount, window: all }',
  idle: '{ agg: days_since_last, window: all }',
  at: '{ agg: as_of, column: amount, window: 1d }',
  big: '{ agg: count, column: "amount > 10", window: 1d }',
};

function projectSpec(timezone: string, features: Record<string, string>, where?: string): string {
  return [
    'project: t',
    `timezone: ${timezone}`,
    'sources:',
    '  events:',
    '    path: data/events.csv',
    '    timestamp: event_ts',
    '    ingested_at: ingested_at',
    '    columns:',
    '      user_id: string',
    '      event_ts: timestamp',
    '      amount: double',
    '      status: string',
    '      ingested_at: timestamp',
    'entities:',
    '  user:',
    '    key: user_id',
    'views:',
    '  v:',
    '    entity: user',
    '    source: events',
    '    version: 1',
    ...(where ? [`    where: ${JSON.stringify(where)}`] : []),
    '    features:',
    ...Object.entries(features).map(([k, v]) => `      ${k}: ${v}`),
    '',
  ].join('\n');
}

describe('training set on Spark = on DuckDB', () => {
  it('hand-made: label at an event time, DST days, duplicated labels, no history, arrival rule', async () => {
    // New York springs forward on 2025-03-09 (02:00 -> 03:00): a 1d window from 03-10 01:30 local
    // starts at 03-09 01:30 EST, 23 hours earlier.
    const events = [
      'user_id,event_ts,amount,status,ingested_at',
      'u1,2025-03-08 10:00:00,5,success,',
      'u1,2025-03-09 01:00:00,7,success,2025-03-09 01:05:00',
      'u1,2025-03-09 01:45:00,11,failed,2025-03-09 01:46:00',
      'u1,2025-03-09 12:00:00,13,success,2025-03-10 09:00:00', // arrives late
      'u1,2025-03-10 01:30:00,17,success,', // exactly at a label time: excluded
      'u2,2025-03-01 08:00:00,,success,',
      'u2,2025-03-09 03:30:00,2.5,success,2025-03-09T08:00:00Z',
      'u3,2025-03-09 23:59:59,100,failed,',
    ];
    const labels = [
      'user_id,label_ts,y',
      'u1,2025-03-10 01:30:00,1',
      'u2,2025-03-10 03:00:00,0',
      'u1,2025-03-10 01:30:00,1', // duplicate
      'u9,2025-03-10 00:00:00,0', // no history
      ',2025-03-10 00:00:00,1', // no entity key
      'u1,2025-03-10T06:30:00Z,0', // the same instant with an offset
      'u1,2025-03-10 10:00:00,1', // after the late row arrived
      'u3,2025-03-10 00:00:00,1',
      'u2,2025-03-09 02:30:00,0', // in the DST gap
    ];
    const dir = makeProject({
      'asof.yaml': projectSpec('America/New_York', ALL_KINDS, "status != 'cancelled'"),
      'data/events.csv': `${events.join('\n')}\n`,
      'labels.csv': `${labels.join('\n')}\n`,
    });
    for (const ignoreArrival of [false, true]) {
      const duck = await trainOn('duckdb', dir, { ignoreArrival });
      const sp = await trainOn('spark', dir, { ignoreArrival });
      expect(difference(duck, sp)).toBeUndefined();
      expect(sp.rows.map((r) => r.y)).toEqual([1, 0, 1, 0, 1, 0, 1, 1, 0]);
      // u1 at 03-10 01:30 local: the 1d window starts 03-09 01:30 EST (DST day: 23 hours), so it
      // holds 01:45 and 12:00 (the latter only when arrival is ignored), never 17 at 01:30 itself.
      expect(sp.rows[0]?.n).toBe(ignoreArrival ? 2 : 1);
      expect(sp.rows[2]?.n).toBe(sp.rows[0]?.n);
      expect(sp.rows[5]?.n).toBe(sp.rows[0]?.n);
      expect(sp.rows[6]?.n).toBe(2);
      expect(sp.rows[0]?.latest).toBe(ignoreArrival ? 13 : 11);
      // no history: empty values (0, FALSE, NULL)
      expect(sp.rows[3]).toMatchObject({ n: 0, any: false, kinds: 0, latest: null, idle: null });
      expect(sp.rows[4]).toMatchObject({ n: 0, any: false, latest: null });
    }
    // Published partitions are read by the embedded engine: asking Spark for them is a usage error.
    await expect(
      trainingSet(await loadProject(dir), {
        labels: path.join(dir, 'labels.csv'),
        timeColumn: 'label_ts',
        out: path.join(tempDir('asof-ts-'), 'p.parquet'),
        mode: 'partitions',
        using: spark,
      }),
    ).rejects.toMatchObject({ code: 'usage' });
  }, 120_000);

  it('for random events, features, zones and labels', async () => {
    const ZONES = ['UTC', 'America/New_York', 'Europe/Paris', 'Australia/Lord_Howe'];
    const KINDS = Object.values(ALL_KINDS).map((d) => d.replace(/window: \w+/, 'window: W'));
    const event = fc.record({
      user: fc.constantFrom('u1', 'u2', 'u3'),
      // minutes from 2025-03-01 00:00 local over ~40 days (spans the March DST changes)
      minute: fc.integer({ min: 0, max: 40 * 24 * 60 }),
      lag: fc.option(fc.integer({ min: -60, max: 3 * 24 * 60 }), { nil: null }),
      amount: fc.option(fc.integer({ min: -50, max: 500 }), { nil: null }),
      ok: fc.boolean(),
    });
    const stamp = (minute: number) => new Date(Date.UTC(2025, 2, 1, 0, minute)).toISOString().slice(0, 19);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ZONES),
        fc.boolean(),
        fc.array(fc.tuple(fc.constantFrom(...KINDS), fc.constantFrom('6h', '1d', '3d', 'all')), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(event, { minLength: 5, maxLength: 80 }),
        fc.array(
          fc.record({
            user: fc.constantFrom('u1', 'u2', 'u3', 'u4'),
            // anywhere, or on the days around a DST change (New York, Paris, Lord Howe)
            minute: fc.oneof(
              fc.integer({ min: 0, max: 42 * 24 * 60 }),
              fc
                .tuple(fc.constantFrom(8, 9, 29, 30, 36), fc.integer({ min: 0, max: 24 * 60 - 1 }))
                .map(([d, m]) => d * 24 * 60 + m),
            ),
            atEvent: fc.boolean(),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        fc.boolean(),
        async (tz, withWhere, feats, events, labels, ignoreArrival) => {
          const features = Object.fromEntries(
            feats.map(([k, w], i) => [`f${i}`, k.replace('window: W', `window: ${w}`)]),
          );
          const rows = events.map(
            (e) =>
              `${e.user},${stamp(e.minute)},${e.amount ?? ''},${e.ok ? 'success' : 'failed'},${e.lag === null ? '' : stamp(e.minute + e.lag)}`,
          );
          // Half the labels sit exactly at one of the entity's events.
          const labelRows = labels.map((l, i) => {
            const e = l.atEvent ? events[i % events.length] : undefined;
            return e ? `${e.user},${stamp(e.minute)},${i}` : `${l.user},${stamp(l.minute)},${i}`;
          });
          const dir = makeProject({
            'asof.yaml': projectSpec(tz, features, withWhere ? "status = 'success'" : undefined),
            'data/events.csv': `${['user_id,event_ts,amount,status,ingested_at', ...rows].join('\n')}\n`,
            'labels.csv': `${['user_id,label_ts,y', ...labelRows].join('\n')}\n`,
          });
          const duck = await trainOn('duckdb', dir, { ignoreArrival });
          const sp = await trainOn('spark', dir, { ignoreArrival });
          const diff = difference(duck, sp);
          if (diff)
            throw new Error(`${tz} ${JSON.stringify(features)} ignoreArrival=${ignoreArrival}: ${diff}`);
        },
      ),
      { numRuns: 5, seed: 20251125, endOnFailure: true },
    );
  }, 150_000);

  it('the CLI takes --engine spark', async () => {
    const dir = makeProject({
      'asof.yaml': projectSpec('UTC', { n: '{ agg: count, window: all }' }),
      'data/events.csv': 'user_id,event_ts,amount,status,ingested_at\nu1,2025-03-01 10:00:00,1,success,\n',
      'labels.csv': 'user_id,label_ts\nu1,2025-03-02 00:00:00\nu1,2025-03-01 10:00:00\n',
    });
    const out = path.join(dir, 'out.csv');
    const r = await runCli([
      'training-set',
      '--project',
      dir,
      '--labels',
      path.join(dir, 'labels.csv'),
      '--time-column',
      'label_ts',
      '--out',
      out,
      '--engine',
      'spark',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual([
      'user_id,label_ts,n',
      'u1,2025-03-02 00:00:00,1',
      'u1,2025-03-01 10:00:00,0',
    ]);
  }, 120_000);
});
