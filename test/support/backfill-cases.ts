// Random backfill cases for the parity property tests (backfill vs build, Spark vs DuckDB): a spec with
// random features (every aggregation kind, Nh / Nd / all windows, both cutoffs, a filter, DST time
// zones) over random events, and the dates to backfill. One generator, so both tests cover the same space.

import fc from 'fast-check';
import { addDays, dateRange, type IsoDate } from '../../src/time/index.js';
import { spec } from './project.js';

export interface BackfillCaseOptions {
  /** The most features in one spec. */
  maxFeatures: number;
  /** amount is an integer in [min, max] divided by `divisor` (4: quarters, exact in binary; 100: not). */
  amount: { min: number; max: number; divisor: number };
  /** The third column `sum` may take: an expression over the source's columns. */
  sumExpression: string;
}

export interface BackfillCase {
  timezone: string;
  start: IsoDate;
  cutoff: 'end_of_day' | 'start_of_day';
  filtered: boolean;
  features: { agg: string; pick: number; window: string }[];
  rows: {
    user: number;
    day: number;
    minute: number;
    amount: number | null;
    qty: number | null;
    cat: string | null;
    ok: boolean;
  }[];
  /** The first date to backfill, in days after `start`. */
  firstDate: number;
  /** How many dates to backfill. */
  dates: number;
  chunkDays: number;
}

const COLUMNS = {
  user_id: 'string',
  event_ts: 'timestamp',
  amount: 'double',
  qty: 'int',
  cat: 'string',
  status: 'string',
};

const WINDOWS = ['1h', '5h', '24h', '36h', '1d', '2d', '7d', 'all'];

/** The columns each kind may take ('' for none); a case's `pick` chooses one. */
function featureColumns(o: BackfillCaseOptions): Record<string, string[]> {
  return {
    count: ['', 'amount'],
    sum: ['amount', 'qty', o.sumExpression],
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
}

export function backfillCaseArb(o: BackfillCaseOptions): fc.Arbitrary<BackfillCase> {
  const featureArb = fc.record({
    agg: fc.constantFrom(...Object.keys(featureColumns(o))),
    pick: fc.nat(10),
    window: fc.constantFrom(...WINDOWS),
  });
  const rowArb = fc.record({
    user: fc.nat(5),
    day: fc.nat(13),
    // Times cluster on boundaries: midnight, a minute either side, and hour marks.
    minute: fc.oneof(fc.constantFrom(0, 1, 60, 719, 720, 1439), fc.nat(1439)),
    amount: fc.option(fc.integer({ min: o.amount.min, max: o.amount.max }), { freq: 6 }),
    qty: fc.option(fc.integer({ min: -3, max: 9 }), { freq: 6 }),
    cat: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { freq: 6 }),
    ok: fc.boolean(),
  });
  return fc.record({
    timezone: fc.constantFrom('UTC', 'America/New_York', 'Europe/Paris', 'Australia/Lord_Howe'),
    start: fc.constantFrom('2025-03-03', '2025-03-27', '2025-10-22', '2025-03-31'),
    cutoff: fc.constantFrom('end_of_day' as const, 'start_of_day' as const),
    filtered: fc.boolean(),
    features: fc.array(featureArb, { minLength: 1, maxLength: o.maxFeatures }),
    rows: fc.array(rowArb, { minLength: 1, maxLength: 60 }),
    firstDate: fc.integer({ min: 2, max: 8 }),
    dates: fc.integer({ min: 1, max: 6 }),
    chunkDays: fc.integer({ min: 1, max: 4 }),
  });
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** The project of a case: asof.yaml (one view `v` over `events`) and data/events.csv. */
export function backfillCaseFiles(c: BackfillCase, o: BackfillCaseOptions): Record<string, string> {
  const kinds = featureColumns(o);
  const features: Record<string, string> = {};
  c.features.forEach((f, i) => {
    const cols = kinds[f.agg] ?? [''];
    const col = cols[f.pick % cols.length] ?? '';
    const column = col === '' ? '' : `, column: ${JSON.stringify(col)}`;
    features[`f${i}_${f.agg}`] = `{ agg: ${f.agg}${column}, window: ${f.window} }`;
  });
  const lines = ['user_id,event_ts,amount,qty,cat,status'];
  for (const r of c.rows) {
    const date = addDays(c.start, r.day);
    const ts = `${date}T${pad(Math.floor(r.minute / 60))}:${pad(r.minute % 60)}:00`;
    const amount = r.amount === null ? '' : String(r.amount / o.amount.divisor);
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

/** The as_of_dates a case backfills. */
export function backfillCaseDates(c: BackfillCase): IsoDate[] {
  const first = addDays(c.start, c.firstDate);
  return dateRange(first, addDays(first, c.dates - 1));
}

/** Equal, or for numbers within 1e-9 relative (floating sums depend on the order of addition). */
export function closeEnough(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  }
  return a === b;
}
