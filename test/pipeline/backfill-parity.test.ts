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
import { addDays, dateRange } from '../../src/time/index.js';
import { type Obj, toObjects } from '../support/build.js';
import { makeProject, spec } from '../support/project.js';

const COLUMNS = {
  user_id: 'string',
  event_ts: 'timestamp',
  amount: 'double',
  qty: 'int',
  cat: 'string',
  status: 'string',
};

const WINDOWS = ['1h', '5h', '24h', '36h', '1d', '2d', '7d', 'all'];
const FEATURES: Record<string, string[]> = {
  count: ['', 'amount'],
  sum: ['amount', 'qty', 'qty * 2'],
  avg: ['amount', 'qty'],
  min: ['amount', 'qty', 'cat', 'event_ts'],
  max: ['amount', 'qty', 'cat', 'event_ts'],
  exists: [''],
  count_distinct: ['cat', 'qty'],
  last: ['amount', 'cat', 'qty'],
  first: ['amount', 'cat', 'qty'],
  stddev: ['amount', 'qty'],
  days_since_last: [''],
  as_of: ['amount', 'cat'],
};

const featureArb = fc.record({
  agg: fc.constantFrom(...Object.keys(FEATURES)),
  pick: fc.nat(10),
  window: fc.constantFrom(...WINDOWS),
});

// Times cluster on boundaries: midnight, a minute either side, and hour marks.
const minuteArb = fc.oneof(fc.constantFrom(0, 1, 60, 719, 720, 1439), fc.nat(1439));
const rowArb = fc.record({
  user: fc.nat(5),
  day: fc.nat(13),
  minute: minuteArb,
  amount: fc.option(fc.integer({ min: -40, max: 400 }), { freq: 6 }),
  qty: fc.option(fc.integer({ min: -3, max: 9 }), { freq: 6 }),
  cat: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { freq: 6 }),
  ok: fc.boolean(),
});

const caseArb = fc.record({
  timezone: fc.constantFrom('UTC', 'America/New_York', 'Europe/Paris', 'Australia/Lord_Howe'),
  start: fc.constantFrom('2025-03-03', '2025-03-27', '2025-10-22', '2025-03-31'),
  cutoff: fc.constantFrom('end_of_day' as const, 'start_of_day' as const),
  filtered: fc.boolean(),
  features: fc.array(featureArb, { minLength: 1, maxLength: 5 }),
  rows: fc.array(rowArb, { minLength: 1, maxLength: 60 }),
  firstDate: fc.integer({ min: 2, max: 8 }),
  dates: fc.integer({ min: 1, max: 6 }),
  chunkDays: fc.integer({ min: 1, max: 4 }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function projectFiles(c: Case): Record<string, string> {
  const features: Record<string, string> = {};
  c.features.forEach((f, i) => {
    const cols = FEATURES[f.agg] ?? [''];
    const col = cols[f.pick % cols.length] ?? '';
    const column = col === '' ? '' : `, column: ${JSON.stringify(col)}`;
    features[`f${i}_${f.agg}`] = `{ agg: ${f.agg}${column}, window: ${f.window} }`;
  });
  const lines = ['user_id,event_ts,amount,qty,cat,status'];
  for (const r of c.rows) {
    const date = addDays(c.start, r.day);
    const ts = `${date}T${pad(Math.floor(r.minute / 60))}:${pad(r.minute % 60)}:00`;
    // Quarters are exact in binary, so sums do not depend on the order of addition.
    const amount = r.amount === null ? '' : String(r.amount / 4);
    lines.push(`u${r.user},${ts},${amount},${r.qty ?? ''},${r.cat ?? ''},${r.ok ? 'success' : 'failed'}`);
  }
  return {
    'asof.yaml': spec({
      timezone: c.timezone,
      columns: COLUMNS,
      cutoff: c.cutoff,
      where: c.filtered ? "status = 'success'" : undefined,
      features,
    }),
    'data/events.csv': `${lines.join('\n')}\n`,
  };
}

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a === b) return true;
    return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  }
  return a === b;
}

function sameRows(got: Obj[], want: Obj[]): string | undefined {
  if (got.length !== want.length) return `${got.length} rows, build has ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i] ?? {};
    const w = want[i] ?? {};
    for (const k of Object.keys(w)) {
      if (!close(g[k], w[k]))
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
        const from = addDays(c.start, c.firstDate);
        const dates = dateRange(from, addDays(from, c.dates - 1));
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
