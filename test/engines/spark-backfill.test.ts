// Spark backfill parity: `asof backfill` on Spark (every date of a chunk in one Spark job, one
// atomic partition per date) writes the rows, columns and manifests DuckDB's backfill writes, for
// hand-picked and random specs; reruns replace; the CLI takes --engine spark and the spec's engine.
// One SparkSession (one Python driver) serves the in-process tests of this file.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SparkEngine } from '../../src/engines/spark/engine.js';
import { backfill } from '../../src/pipeline/backfill.js';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { readManifest } from '../../src/storage/lake/manifest.js';
import { partitionDir } from '../../src/storage/lake/paths.js';
import { dateRange } from '../../src/time/index.js';
import {
  type BackfillCase,
  type BackfillCaseOptions,
  backfillCaseArb,
  backfillCaseDates,
  backfillCaseFiles,
  closeEnough,
} from '../support/backfill-cases.js';
import { type Obj, toObjects } from '../support/build.js';
import { makeProject, runCli, spec, tempDir } from '../support/project.js';

let spark: SparkEngine;

beforeAll(async () => {
  spark = await SparkEngine.open({ conf: { 'spark.sql.shuffle.partitions': 2 } });
}, 180_000);

afterAll(async () => {
  await spark?.close();
});

interface Lake {
  offline: string;
  partitions: Map<string, { rows: Obj[]; columns: { name: string; type: string }[]; rowsWritten: number }>;
}

/** Backfills view `v` of the project in `dir` over `dates` on one engine into a fresh lake. */
async function backfillOn(
  engine: 'duckdb' | 'spark',
  dir: string,
  dates: string[],
  chunkDays: number,
  offline = path.join(tempDir('asof-lake-'), engine),
): Promise<Lake> {
  const project = await loadProject(dir);
  project.storage.offline = offline;
  const result = await backfill(project, {
    dates,
    views: ['v'],
    chunkDays,
    force: true,
    ...(engine === 'spark' ? { using: spark } : { engine }),
  });
  expect(result.built.length).toBe(dates.length);
  const partitions: Lake['partitions'] = new Map();
  for (const d of dates) {
    const shown = await showPartition(project, 'v', d);
    const m = readManifest(partitionDir(offline, 'v', 1, d));
    expect(m?.engine).toBe(engine);
    partitions.set(d, {
      rows: toObjects(shown.result.columns, shown.result.rows),
      columns: m?.columns ?? [],
      rowsWritten: m?.rows_written ?? -1,
    });
  }
  return { offline, partitions };
}

/** Where the Spark lake differs from DuckDB's, or undefined. */
function difference(duck: Lake, sp: Lake): string | undefined {
  for (const [d, want] of duck.partitions) {
    const got = sp.partitions.get(d);
    if (!got) return `${d}: no Spark partition`;
    if (got.rowsWritten !== want.rowsWritten)
      return `${d}: rows_written ${got.rowsWritten}, duckdb ${want.rowsWritten}`;
    if (JSON.stringify(got.columns) !== JSON.stringify(want.columns))
      return `${d}: columns ${JSON.stringify(got.columns)}, duckdb ${JSON.stringify(want.columns)}`;
    if (got.rows.length !== want.rows.length)
      return `${d}: ${got.rows.length} rows, duckdb ${want.rows.length}`;
    for (let i = 0; i < want.rows.length; i++) {
      const g = got.rows[i] ?? {};
      const w = want.rows[i] ?? {};
      for (const k of Object.keys(w)) {
        if (!closeEnough(g[k], w[k]))
          return `${d} row ${i} (${String(w.user_id)}) ${k}: spark ${JSON.stringify(g[k])}, duckdb ${JSON.stringify(w[k])}`;
      }
    }
  }
  return undefined;
}

const CSV = [
  'txn_id,user_id,event_ts,amount,qty,status',
  't1,u1,2024-10-27 02:30:00,10.1,1,ok',
  't2,u1,2024-10-27T02:30:00+02:00,20.2,2,ok',
  't3,u1,2024-10-27 01:59:59.500,5.3,,ok',
  't4,u2,2024-10-26 09:00:00,7,3,ok',
  't5,u2,2024-10-26 09:00:00,9,1,ok',
  't6,u2,2024-10-20 09:00:00,,4,',
  't4,u2,2024-10-26 09:00:00,8,3,ok',
  't7,u3,2024-09-01 00:00:00Z,3.25,0,ok',
  't8,u4,2024-10-29 00:00:00,100,1,ok',
  't9,u5,2024-10-27 10:00:00,1,1,refunded',
  't10,u6,2024-10-24 23:30:00,2,2,ok',
  't11,u6,2024-10-25,4,0,ok',
  't12,u7,2024-10-28 12:00:00,0.7,5,ok',
].join('\n');

const ALL_KINDS = spec({
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
    avg_2d: '{ agg: avg, column: amount, window: 2d }',
    min_7d: '{ agg: min, column: amount, window: 7d }',
    max_ts_all: '{ agg: max, column: event_ts, window: all }',
    any_1d: '{ agg: exists, window: 1d }',
    distinct_qty: '{ agg: count_distinct, column: qty, window: 2d }',
    last_amount: '{ agg: last, column: amount, window: all }',
    first_amount: '{ agg: first, column: amount, window: 2d }',
    last_status: '{ agg: last, column: status, window: 7d }',
    as_of_amount: '{ agg: as_of, column: amount }',
    as_of_status: '{ agg: as_of, column: status, window: 1d }',
    sd_7d: '{ agg: stddev, column: amount, window: 7d }',
    since: '{ agg: days_since_last, window: all }',
  },
});

describe('asof backfill on Spark', () => {
  it('writes the rows, columns and row counts DuckDB writes, every kind, across a DST change, and a rerun replaces', async () => {
    const dir = makeProject({ 'asof.yaml': ALL_KINDS, 'data/events.csv': `${CSV}\n` });
    const dates = dateRange('2024-10-23', '2024-10-30');
    const duck = await backfillOn('duckdb', dir, dates, 3);
    expect([...duck.partitions.values()].some((p) => p.rows.length >= 5)).toBe(true);
    const sp = await backfillOn('spark', dir, dates, 3);
    expect(difference(duck, sp)).toBeUndefined();
    // A rerun over the same lake replaces each partition: same rows, one data file, never appended.
    const again = await backfillOn('spark', dir, dates, 8, sp.offline);
    expect(difference(duck, again)).toBeUndefined();
    for (const d of dates) {
      const files = readdirSync(partitionDir(sp.offline, 'v', 1, d)).filter((f) => f.endsWith('.parquet'));
      expect(files).toEqual(['part-0.parquet']);
    }
    expect(readdirSync(path.join(sp.offline, 'v', 'v1', '.staging'))).toEqual([]);
  }, 240_000);

  it('equals DuckDB for random specs and data (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const dir = makeProject(projectFiles(c));
        const dates = backfillCaseDates(c);
        const duck = await backfillOn('duckdb', dir, dates, c.chunkDays);
        const sp = await backfillOn('spark', dir, dates, c.chunkDays);
        const diff = difference(duck, sp);
        if (diff) expect.fail(`${diff}\n${projectFiles(c)['asof.yaml']}`);
      }),
      { numRuns: Number(process.env.SPARK_PARITY_RUNS ?? 5) },
    );
  }, 420_000);

  it('runs from the CLI with the spec engine: { type: spark, master, conf }, and --engine duckdb overrides it', async () => {
    const yaml = `${ALL_KINDS}engine:\n  type: spark\n  master: local[1]\n  conf:\n    spark.sql.shuffle.partitions: 1\n`;
    const dir = makeProject({ 'asof.yaml': yaml, 'data/events.csv': `${CSV}\n` });
    const r = await runCli(['backfill', '--project', dir, '--from', '2024-10-26', '--to', '2024-10-28']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('backfilled 3 partition(s)');
    const project = await loadProject(dir);
    const m = readManifest(partitionDir(project.storage.offline, 'v', 1, '2024-10-28'));
    expect(m?.engine).toBe('spark');
    const d = await runCli([
      'backfill',
      '--project',
      dir,
      '--from',
      '2024-10-28',
      '--to',
      '2024-10-28',
      '--force',
      '--engine',
      'duckdb',
    ]);
    expect(d.code).toBe(0);
    expect(readManifest(partitionDir(project.storage.offline, 'v', 1, '2024-10-28'))?.engine).toBe('duckdb');
  }, 240_000);
});

// Hundredths are not exact in binary: floating sums may differ in the last bits (1e-9 relative).
const CASES: BackfillCaseOptions = {
  maxFeatures: 6,
  amount: { min: -4000, max: 40000, divisor: 100 },
  sumExpression: 'amount * qty',
};
const caseArb = backfillCaseArb(CASES);
const projectFiles = (c: BackfillCase) => backfillCaseFiles(c, CASES);
