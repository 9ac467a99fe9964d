// Pins the sliding pass (src/engines/duckdb/backfill-slide.ts): for random specs whose every feature
// it computes (count, exists, sum / avg / min / max of a double; Nh / Nd / all windows, both cutoffs,
// filters, DST time zones) and random data, every partition `backfill` writes equals the one
// `asof build --as-of D` writes, and the chunks did take the pass.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { slideStats } from '../../src/engines/duckdb/backfill.js';
import { slideLimits } from '../../src/engines/duckdb/backfill-slide.js';
import { backfill } from '../../src/pipeline/backfill.js';
import { build } from '../../src/pipeline/build.js';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { readManifest } from '../../src/storage/lake/manifest.js';
import { partitionDir } from '../../src/storage/lake/paths.js';
import {
  type BackfillCase,
  type BackfillCaseOptions,
  backfillCaseArb,
  backfillCaseDates,
  backfillCaseFiles,
  closeEnough,
} from '../support/backfill-cases.js';
import { toObjects } from '../support/build.js';
import { makeProject } from '../support/project.js';

const SLID = ['count', 'exists', 'sum', 'avg', 'min', 'max'];

/** The case with every feature one the pass computes: pick 0 is `amount` for sum/avg/min/max. */
function slidable(c: BackfillCase): BackfillCase {
  return {
    ...c,
    features: c.features.map((f) => {
      const agg = SLID[(f.pick + f.agg.length) % SLID.length] ?? 'count';
      return { agg, pick: agg === 'count' ? f.pick % 2 : 0, window: f.window };
    }),
  };
}

async function read(dir: string, date: string) {
  const project = await loadProject(dir);
  const shown = await showPartition(project, 'v', date);
  return {
    rows: toObjects(shown.result.columns, shown.result.rows),
    columns: shown.result.columns,
    manifest: readManifest(partitionDir(project.storage.offline, 'v', 1, date)),
  };
}

async function check(c: BackfillCase, o: BackfillCaseOptions): Promise<void> {
  const files = backfillCaseFiles(c, o);
  const dir = makeProject(files);
  const project = await loadProject(dir);
  const dates = backfillCaseDates(c);
  const before = slideStats.chunks;
  await backfill(project, { dates, chunkDays: c.chunkDays, jobs: 2 });
  expect(slideStats.chunks - before, 'chunks computed by the sliding pass').toBe(
    Math.ceil(dates.length / c.chunkDays),
  );
  const filled = new Map<string, Awaited<ReturnType<typeof read>>>();
  for (const d of dates) filled.set(d, await read(dir, d));
  for (const d of dates) {
    await build(project, { asOf: d });
    const want = await read(dir, d);
    const got = filled.get(d);
    expect(got?.columns, `columns on ${d}`).toEqual(want.columns);
    expect(got?.rows.length, `rows on ${d}`).toBe(want.rows.length);
    want.rows.forEach((w, i) => {
      for (const k of Object.keys(w)) {
        const g = got?.rows[i]?.[k];
        expect(
          closeEnough(g, w[k]),
          `${d} row ${i} ${k}: ${String(g)} != ${String(w[k])}\n${files['asof.yaml']}`,
        ).toBe(true);
      }
    });
    expect(got?.manifest?.columns).toEqual(want.manifest?.columns);
    expect(got?.manifest?.rows_written).toBe(want.manifest?.rows_written);
  }
}

const runs = Number(process.env.ASOF_SLIDE_RUNS ?? 40);
const seed = Number(process.env.ASOF_SLIDE_SEED ?? 20261204);

describe('the sliding pass equals build, date by date', () => {
  it('with amounts exact in binary (any order of addition gives the same sums)', async () => {
    const o: BackfillCaseOptions = {
      maxFeatures: 5,
      amount: { min: -40, max: 400, divisor: 4 },
      sumExpression: 'qty * 2',
    };
    await fc.assert(
      fc.asyncProperty(backfillCaseArb(o).map(slidable), (c) => check(c, o)),
      { numRuns: runs, seed, endOnFailure: true },
    );
  }, 240_000);

  it('with the entities taken in ranges of a few rows (the memory bound)', async () => {
    const o: BackfillCaseOptions = {
      maxFeatures: 5,
      amount: { min: -40, max: 400, divisor: 4 },
      sumExpression: 'qty * 2',
    };
    const saved = { ...slideLimits };
    Object.assign(slideLimits, { partials: 3, rows: 7 });
    try {
      await fc.assert(
        fc.asyncProperty(backfillCaseArb(o).map(slidable), (c) => check(c, o)),
        { numRuns: Math.ceil(runs / 2), seed: seed + 2, endOnFailure: true },
      );
    } finally {
      Object.assign(slideLimits, saved);
    }
  }, 240_000);

  it('with non-negative cents (sums within 1e-9 relative)', async () => {
    const o: BackfillCaseOptions = {
      maxFeatures: 5,
      amount: { min: 0, max: 40000, divisor: 100 },
      sumExpression: 'qty * 2',
    };
    await fc.assert(
      fc.asyncProperty(backfillCaseArb(o).map(slidable), (c) => check(c, o)),
      { numRuns: runs, seed: seed + 1, endOnFailure: true },
    );
  }, 240_000);
});
