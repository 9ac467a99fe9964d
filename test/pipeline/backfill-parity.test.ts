// Pins backfill parity: for random specs (every aggregation kind, Nh / Nd / all windows, both cutoffs,
// filters, DST time zones) and random data, every partition `backfill` writes equals the one
// `asof build --as-of D` writes for that date: same rows, same types, same manifest facts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
import { type Obj, toObjects } from '../support/build.js';
import { makeProject } from '../support/project.js';

// Quarters are exact in binary, so sums do not depend on the order of addition.
const CASES: BackfillCaseOptions = {
  maxFeatures: 5,
  amount: { min: -40, max: 400, divisor: 4 },
  sumExpression: 'qty * 2',
};
const caseArb = backfillCaseArb(CASES);
const projectFiles = (c: BackfillCase) => backfillCaseFiles(c, CASES);

function sameRows(got: Obj[], want: Obj[]): string | undefined {
  if (got.length !== want.length) return `${got.length} rows, build has ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i] ?? {};
    const w = want[i] ?? {};
    for (const k of Object.keys(w)) {
      if (!closeEnough(g[k], w[k]))
        return `row ${i} (${String(w.user_id)}) ${k}: ${String(g[k])} != ${String(w[k])}`;
    }
  }
  return undefined;
}

async function read(dir: string, view: string, date: string) {
  const project = await loadProject(dir);
  const shown = await showPartition(project, view, date);
  const m = readManifest(partitionDir(project.storage.offline, view, 1, date));
  return {
    rows: toObjects(shown.result.columns, shown.result.rows),
    columns: shown.result.columns,
    manifest: m,
  };
}

describe('backfill equals build, date by date', () => {
  it('for random specs and random data', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const dir = makeProject(projectFiles(c));
        const project = await loadProject(dir);
        const dates = backfillCaseDates(c);
        await backfill(project, { dates, chunkDays: c.chunkDays, jobs: 2 });
        const filled = new Map<string, Awaited<ReturnType<typeof read>>>();
        for (const d of dates) filled.set(d, await read(dir, 'v', d));
        for (const d of dates) {
          await build(project, { asOf: d });
          const want = await read(dir, 'v', d);
          const got = filled.get(d);
          expect(got?.columns, `columns on ${d}`).toEqual(want.columns);
          const diff = sameRows(got?.rows ?? [], want.rows);
          expect(diff, `${d}: ${diff}\n${projectFiles(c)['asof.yaml']}`).toBeUndefined();
          expect(got?.manifest?.columns).toEqual(want.manifest?.columns);
          expect(got?.manifest?.rows_written).toBe(want.manifest?.rows_written);
          expect(got?.manifest?.transformation_version).toBe(want.manifest?.transformation_version);
          expect(got?.manifest?.source.fingerprint).toBe(want.manifest?.source.fingerprint);
          expect(got?.manifest?.cutoff).toBe(want.manifest?.cutoff);
        }
      }),
      {
        numRuns: 20,
        seed: 20250603,
        endOnFailure: true,
        // Found with another seed: a range-join kind (stddev) with an `all` window beside a
        // one-bucket frame (min 1h) once declared a window that nothing used.
        examples: [
          [
            {
              timezone: 'Europe/Paris',
              start: '2025-10-22',
              cutoff: 'end_of_day' as const,
              filtered: false,
              features: [
                { agg: 'stddev', pick: 3, window: 'all' },
                { agg: 'min', pick: 10, window: '1h' },
              ],
              rows: [
                { user: 3, day: 8, minute: 324, amount: null, qty: 7, cat: 'd', ok: true },
                { user: 0, day: 13, minute: 867, amount: 60, qty: -2, cat: 'd', ok: false },
                { user: 3, day: 3, minute: 60, amount: 111, qty: 0, cat: 'c', ok: true },
              ],
              firstDate: 4,
              dates: 3,
              chunkDays: 2,
            },
          ],
        ],
      },
    );
  }, 240_000);
});
