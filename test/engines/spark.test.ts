// Spark conformance: the golden projects and random specs on real Spark (pyspark, local[*]) must
// give the rows DuckDB gives; contract violations are the same AsofErrors. One SparkSession (one
// Python driver) serves the whole file; one golden runs through the CLI with --engine spark.

import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sparkDialect } from '../../src/engines/spark/dialect.js';
import { SparkEngine } from '../../src/engines/spark/engine.js';
import { printExpr } from '../../src/engines/sql/expr-printer.js';
import { AsofError } from '../../src/errors.js';
import { compileEvaluator, type Value } from '../../src/expr/evaluate.js';
import { parseExpr } from '../../src/expr/parse.js';
import { inferNullableType } from '../../src/expr/types.js';
import { build } from '../../src/pipeline/build.js';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { readManifest } from '../../src/storage/lake/manifest.js';
import type { Columns, ColumnType } from '../../src/types.js';
import { type Obj, toObjects } from '../support/build.js';
import { makeProject, runCli, SHARED_DIR, spec, tempDir } from '../support/project.js';

let spark: SparkEngine;

beforeAll(async () => {
  spark = await SparkEngine.open({ conf: { 'spark.sql.shuffle.partitions': 2 } });
}, 180_000);

afterAll(async () => {
  await spark?.close();
});

/** Builds view `v` of the project in `dir` on one engine (a fresh lake each time) and reads it back. */
async function rowsOn(engine: 'duckdb' | 'spark', dir: string, asOf: string, view = 'v'): Promise<Obj[]> {
  const project = await loadProject(dir);
  project.storage.offline = path.join(tempDir('asof-lake-'), engine);
  await build(project, { asOf, views: [view], ...(engine === 'spark' ? { using: spark } : { engine }) });
  const shown = await showPartition(project, view, asOf);
  return toObjects(shown.result.columns, shown.result.rows);
}

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return a === b;
}

function expectSameRows(duck: Obj[], sparkRows: Obj[], context: string): void {
  expect(sparkRows.length, `${context}\nrow count`).toBe(duck.length);
  duck.forEach((d, i) => {
    const s = sparkRows[i] ?? {};
    expect(Object.keys(s), context).toEqual(Object.keys(d));
    for (const k of Object.keys(d)) {
      if (!close(d[k], s[k])) {
        expect.fail(
          `${context}\nrow ${i} column ${k}: duckdb ${JSON.stringify(d[k])}, spark ${JSON.stringify(s[k])}`,
        );
      }
    }
  });
}

const GOLDEN = path.join(SHARED_DIR, 'golden');

describe('golden projects on Spark', () => {
  it('exercise1 through the CLI with --engine spark prints expected.csv, and the manifest names spark', async () => {
    const dir = path.join(tempDir(), 'exercise1');
    cpSync(path.join(GOLDEN, 'exercise1'), dir, { recursive: true });
    const b = await runCli(['build', '--project', dir, '--as-of', '2025-01-10', '--engine', 'spark']);
    expect(b.stderr).not.toMatch(/error/i);
    expect(b.code).toBe(0);
    const s = await runCli([
      'show',
      '--project',
      dir,
      '--view',
      'user_txn',
      '--as-of',
      '2025-01-10',
      '--format',
      'csv',
    ]);
    expect(s.stdout).toBe(readFileSync(path.join(dir, 'expected.csv'), 'utf8'));
    const m = readManifest(path.join(dir, 'lake', 'user_txn', 'v1', 'as_of_date=2025-01-10'));
    expect(m?.engine).toBe('spark');
    expect(m?.data_files.map((f) => f.path)).toEqual(['part-0.parquet']);
  }, 180_000);

  it('exercise2 (start_of_day, future events excluded) prints expected.csv', async () => {
    const dir = path.join(tempDir(), 'exercise2');
    cpSync(path.join(GOLDEN, 'exercise2'), dir, { recursive: true });
    const project = await loadProject(dir);
    await build(project, { asOf: '2025-03-01', using: spark });
    const s = await runCli([
      'show',
      '--project',
      dir,
      '--view',
      'user_support',
      '--as-of',
      '2025-03-01',
      '--format',
      'csv',
    ]);
    expect(s.stdout).toBe(readFileSync(path.join(dir, 'expected.csv'), 'utf8'));
  }, 120_000);
});

describe('the engine setting', () => {
  it('is metadata: engine: { type: spark, master, conf } leaves every transformation_version as it was', async () => {
    const base = spec({ features: { n: '{ agg: count, window: 7d }' } });
    const withEngine = `${base}engine:\n  type: spark\n  master: spark://example:7077\n  conf:\n    spark.executor.memory: 8g\n    spark.executor.instances: 4\n`;
    const plain = await loadProject(makeProject({ 'asof.yaml': base }));
    const sparked = await loadProject(makeProject({ 'asof.yaml': withEngine }));
    expect(sparked.engine).toEqual({
      type: 'spark',
      master: 'spark://example:7077',
      conf: { 'spark.executor.memory': '8g', 'spark.executor.instances': 4 },
    });
    expect(sparked.views.v?.transformationVersion).toBe(plain.views.v?.transformationVersion);
  });

  it('rejects an unknown engine type with exit 2 naming engine.type', async () => {
    const dir = makeProject({
      'asof.yaml': `${spec({ features: { n: '{ agg: count, window: 7d }' } })}engine:\n  type: flink\n`,
    });
    const r = await runCli(['validate', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/engine\.type/);
  });
});

describe('contract violations on Spark are AsofErrors with code contract (exit 3)', () => {
  const cases: [string, string, string, RegExp][] = [
    [
      'a missing contract column',
      'user_id,event_ts,status\nu1,2025-01-01 10:00:00,ok\n',
      'amount',
      /'amount' missing/,
    ],
    [
      'an unparsable value',
      'user_id,event_ts,amount,status\nu1,2025-01-01 10:00:00,12x,ok\n',
      'amount',
      /line 2: column amount: cannot read '12x' as double/,
    ],
    [
      'a null entity key',
      'user_id,event_ts,amount,status\n,2025-01-01 10:00:00,1,ok\n',
      'user_id',
      /line 2: column user_id: the entity key is empty/,
    ],
    [
      'an unparsable event time',
      'user_id,event_ts,amount,status\nu1,yesterday,1,ok\n',
      'event_ts',
      /cannot read 'yesterday' as timestamp/,
    ],
  ];
  for (const [what, csv, column, message] of cases) {
    it(what, async () => {
      const dir = makeProject({
        'asof.yaml': spec({ features: { n: '{ agg: count, window: 7d }' } }),
        'data/events.csv': csv,
      });
      const err = await rowsOn('spark', dir, '2025-01-02').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AsofError);
      expect((err as AsofError).code).toBe('contract');
      expect((err as AsofError).message).toMatch(message);
      expect((err as AsofError).place.dataColumn).toBe(column);
    }, 60_000);
  }
});

describe('Spark expression dialect agrees with the TypeScript evaluator', () => {
  const COLUMNS: Columns = { s: 'string', i: 'int', d: 'double', b: 'bool', ts: 'timestamp', dt: 'date' };
  const EXPRESSIONS = [
    'i / 0',
    'i / 4',
    'd % 0',
    'i % -3',
    '-7 % 3',
    'd / i',
    'i IN (1, 2, NULL)',
    'i NOT IN (1, NULL)',
    'NOT (b OR NULL)',
    'b AND NULL',
    'substr(s, -3, 2)',
    'substr(s, 0)',
    'substr(s, 2, -1)',
    'substr(s, 3)',
    'length(s)',
    "upper(s) || lower(s) || 'x'",
    "concat(s, NULL, '-', CAST(i AS string))",
    'trim(s)',
    "s LIKE '%l%'",
    "s LIKE 'a\\%'",
    "s NOT LIKE '_b%'",
    'coalesce(NULL, i, 0)',
    'least(i, NULL, 3)',
    'greatest(d, i)',
    'floor(d)',
    'ceil(d) + 0.5',
    'abs(i - 5)',
    'round(d)',
    'to_date(ts)',
    'hour(ts)',
    'day_of_week(ts)',
    "ts > TIMESTAMP '2024-10-27 02:30:00'",
    "ts >= TIMESTAMP '2024-03-31 02:30:00'",
    "dt BETWEEN DATE '2024-01-01' AND DATE '2024-12-31'",
    "CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'neg' ELSE NULL END",
    'nullif(i, 0)',
    'CAST(dt AS string)',
    'CAST(s AS double)',
    'CAST(i AS bool)',
    'CAST(b AS int) + CAST(i AS double)',
  ];
  const STRINGS = ['', 'abc', 'Hello World', '  pad  ', "it's", 'a%b', 'a\\b', '12', 'ab_c'];
  const TIMES = [
    Date.UTC(2024, 9, 27, 0, 30),
    Date.UTC(2024, 9, 27, 1, 0),
    Date.UTC(2024, 9, 27, 0, 59, 59, 999),
    Date.UTC(2024, 2, 31, 1, 0),
    Date.UTC(2024, 2, 10, 7, 30),
    Date.UTC(2024, 10, 3, 5, 30),
    Date.UTC(2023, 11, 31, 23, 59),
  ];
  const rows: Record<string, Value>[] = Array.from({ length: 18 }, (_, k) => ({
    s: k % 7 === 3 ? null : (STRINGS[k % STRINGS.length] ?? null),
    i: k % 6 === 5 ? null : (k % 9) - 4,
    d: k % 5 === 4 ? null : ((k * 37) % 23) / 4 - 2.5,
    b: k % 4 === 3 ? null : k % 2 === 0,
    ts: k % 8 === 7 ? null : (TIMES[k % TIMES.length] ?? null),
    dt: k % 10 === 9 ? null : `2024-0${(k % 9) + 1}-1${k % 10}`,
  }));
  const literal = (v: Value, t: ColumnType): string => {
    if (v === null) return sparkDialect.typedNull(t);
    if (t === 'timestamp') return `timestamp_millis(CAST(${v} AS BIGINT))`;
    if (t === 'string') return sparkDialect.stringLiteral(v as string);
    if (t === 'int') return sparkDialect.intLiteral(v as number);
    if (t === 'double') return sparkDialect.doubleLiteral(v as number);
    if (t === 'date') return sparkDialect.dateLiteral(v as string);
    return v ? 'TRUE' : 'FALSE';
  };

  for (const timezone of ['Europe/Paris', 'America/New_York']) {
    it(`on ${EXPRESSIONS.length} expressions over rows with NULLs and DST instants, in ${timezone}`, async () => {
      const names = Object.keys(COLUMNS);
      const values = rows
        .map(
          (r, k) => `(${k}, ${names.map((n) => literal(r[n] ?? null, COLUMNS[n] as ColumnType)).join(', ')})`,
        )
        .join(',\n');
      const exprs = EXPRESSIONS.map((text) => parseExpr(text));
      const outputs = exprs.map((e, j) => {
        const sql = printExpr(e, sparkDialect, { timezone });
        const type = inferNullableType(e, COLUMNS);
        const out =
          type === 'date' ? `CAST(${sql} AS STRING)` : type === 'timestamp' ? `unix_millis(${sql})` : sql;
        return `${out} AS v${j}`;
      });
      const result = await spark.query(
        `SELECT k, ${outputs.join(', ')} FROM VALUES ${values} AS t(k, ${names.join(', ')}) ORDER BY k`,
      );
      exprs.forEach((e, j) => {
        const run = compileEvaluator(e, { timezone, columns: COLUMNS });
        rows.forEach((row, k) => {
          const expected = run(row);
          const got = result.rows[k]?.[j + 1] ?? null;
          if (!close(expected, got)) {
            expect.fail(
              `${EXPRESSIONS[j]} in ${timezone} on ${JSON.stringify(row)}: evaluator ${JSON.stringify(expected)}, spark ${JSON.stringify(got)}`,
            );
          }
        });
      });
    }, 120_000);
  }
});

describe('Spark agrees with DuckDB', () => {
  it('on hand-picked semantics: DST, offsets, NULLs, ties, dedupe, where, population, empty windows', async () => {
    const csv = [
      'txn_id,user_id,event_ts,amount,qty,status',
      // the repeated 02:30 of 2024-10-27 in Paris is the later instant; with an offset it is converted
      't1,u1,2024-10-27 02:30:00,10,1,ok',
      't2,u1,2024-10-27T02:30:00+02:00,20,2,ok',
      't3,u1,2024-10-27 01:59:59.500,5,,ok',
      // ties at one instant: the greater value wins for last / first
      't4,u2,2024-10-26 09:00:00,7,3,ok',
      't5,u2,2024-10-26 09:00:00,9,1,ok',
      't6,u2,2024-10-20 09:00:00,,4,',
      // a duplicate key: the later row wins
      't4,u2,2024-10-26 09:00:00,8,3,ok',
      // only outside the short windows, only after the cutoff, only filtered out
      't7,u3,2024-09-01 00:00:00Z,3.25,0,ok',
      't8,u4,2024-10-29 00:00:00,100,1,ok',
      't9,u5,2024-10-27 10:00:00,1,1,refunded',
      // a skipped time and a date only
      't10,u6,2024-03-31 02:30:00,2,2,ok',
      't11,u6,2024-10-25,4,0,ok',
    ].join('\n');
    const dir = makeProject({
      'asof.yaml': spec({
        timezone: 'Europe/Paris',
        primaryKey: 'txn_id',
        columns: {
          txn_id: 'string',
          user_id: 'string',
          event_ts: 'timestamp',
          amount: 'double',
          qty: 'int',
          status: 'string',
        },
        where: "status IS NULL OR status <> 'refunded'",
        features: {
          n_1d: '{ agg: count, window: 1d }',
          n_amount_3h: '{ agg: count, column: amount, window: 3h }',
          sum_7d: '{ agg: sum, column: amount, window: 7d }',
          sum_qty_all: '{ agg: sum, column: qty, window: all }',
          avg_7d: '{ agg: avg, column: amount, window: 7d }',
          min_7d: '{ agg: min, column: amount, window: 7d }',
          max_ts_all: '{ agg: max, column: event_ts, window: all }',
          any_1d: '{ agg: exists, window: 1d }',
          distinct_qty: '{ agg: count_distinct, column: qty, window: all }',
          last_amount: '{ agg: last, column: amount, window: all }',
          first_amount: '{ agg: first, column: amount, window: all }',
          last_status: '{ agg: last, column: status, window: 7d }',
          as_of_amount: '{ agg: as_of, column: amount }',
          as_of_status: '{ agg: as_of, column: status, window: 7d }',
          sd_7d: '{ agg: stddev, column: amount, window: 7d }',
          ratio: '{ agg: sum, column: "amount / qty", window: all }',
          hours: '{ agg: max, column: "hour(event_ts) * 10 + day_of_week(event_ts)", window: all }',
          day: '{ agg: max, column: "to_date(event_ts)", window: all }',
          late: '{ agg: count, column: "CASE WHEN event_ts >= TIMESTAMP \'2024-10-27 02:30:00\' THEN 1 END", window: all }',
          since: '{ agg: days_since_last, window: all }',
          text: '{ agg: max, column: "concat(upper(status), \'-\', substr(txn_id, -2, 1))", window: all }',
        },
      }),
      'data/events.csv': `${csv}\n`,
    });
    for (const asOf of ['2024-10-27', '2024-10-28']) {
      const duck = await rowsOn('duckdb', dir, asOf);
      expect(duck.length).toBeGreaterThan(3);
      expectSameRows(duck, await rowsOn('spark', dir, asOf), `as of ${asOf}`);
    }
  }, 180_000);

  it('on random specs and data (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const c = randomCase(seed);
        const dir = makeProject({ 'asof.yaml': c.spec, 'data/events.csv': c.csv });
        const duck = await rowsOn('duckdb', dir, c.asOf);
        expectSameRows(duck, await rowsOn('spark', dir, c.asOf), `seed ${seed}\n${c.spec}`);
      }),
      { numRuns: Number(process.env.SPARK_PARITY_RUNS ?? 6) },
    );
  }, 240_000);
});

/** mulberry32: reproducible randomness from the fast-check seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata'];
const AROUND = ['2024-03-31', '2024-10-27', '2024-03-10', '2024-11-03', '2024-06-15'];
const WINDOWS = ['1h', '6h', '25h', '1d', '2d', '7d', 'all'];
const NUMERIC = [
  'amount',
  'qty',
  'amount * qty',
  'amount / qty',
  'qty % 3',
  'CASE WHEN amount > 5 THEN amount END',
  'coalesce(amount, 0) + 1',
  'hour(event_ts)',
];
const ANY = [
  ...NUMERIC,
  'status',
  'event_ts',
  'flag',
  'to_date(event_ts)',
  "concat(status, '!')",
  'lower(status)',
];
const WHERES = [
  undefined,
  "status = 'ok'",
  'amount > 2 OR flag',
  'NOT flag',
  'qty IS NOT NULL AND qty BETWEEN 1 AND 3',
  "status LIKE 'o%'",
];

function randomCase(seed: number): { spec: string; csv: string; asOf: string } {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const timezone = pick(ZONES);
  const asOf = pick(AROUND);
  const features: Record<string, string> = {};
  const count = 2 + Math.floor(r() * 5);
  for (let i = 0; i < count; i++) {
    const agg = pick([
      'count',
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
    ] as const);
    const numeric = agg === 'sum' || agg === 'avg' || agg === 'stddev';
    const column =
      agg === 'days_since_last' || (agg === 'count' && r() < 0.5) || (agg === 'exists' && r() < 0.5)
        ? undefined
        : numeric
          ? pick(NUMERIC)
          : pick(ANY);
    const col = column === undefined ? '' : `, column: ${JSON.stringify(column)}`;
    features[`f${i}`] = `{ agg: ${agg}${col}, window: ${pick(WINDOWS)} }`;
  }
  const base = Date.parse(`${asOf}T12:00:00Z`);
  const lines = ['txn_id,user_id,event_ts,amount,qty,status,flag'];
  const rows = 20 + Math.floor(r() * 40);
  for (let i = 0; i < rows; i++) {
    const ms = base + Math.floor((r() - 0.7) * 5 * 86_400_000);
    const iso = new Date(ms).toISOString();
    const ts = r() < 0.3 ? iso : iso.slice(0, 19).replace('T', ' ');
    const maybe = (v: string) => (r() < 0.15 ? '' : v);
    lines.push(
      [
        `t${Math.floor(r() * rows)}`,
        `u${Math.floor(r() * 6)}`,
        ts,
        maybe(String(Math.round(r() * 2000) / 100)),
        maybe(String(Math.floor(r() * 5))),
        maybe(pick(['ok', 'failed', 'open'])),
        maybe(pick(['true', 'false'])),
      ].join(','),
    );
  }
  const where = pick(WHERES);
  return {
    asOf,
    csv: `${lines.join('\n')}\n`,
    spec: spec({
      timezone,
      cutoff: r() < 0.5 ? 'end_of_day' : 'start_of_day',
      primaryKey: r() < 0.4 ? 'txn_id' : undefined,
      columns: {
        txn_id: 'string',
        user_id: 'string',
        event_ts: 'timestamp',
        amount: 'double',
        qty: 'int',
        status: 'string',
        flag: 'bool',
      },
      ...(where ? { where } : {}),
      features,
    }),
  };
}
