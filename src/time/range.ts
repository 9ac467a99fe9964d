// The date range of a backfill or plan: both ends real calendar dates, in order, and no longer
// than MAX_RANGE_DAYS (ten years), so a typo such as 2205 for 2025 is a usage error, not a job.

import { AsofError } from '../errors.js';
import { dateRange, daysBetween, type IsoDate, parseIsoDate } from './index.js';

export const MAX_RANGE_DAYS = 3660;

/** Parses `--from` / `--to` and returns every date between them, both included. */
export function parseDateRange(fromText: string, toText: string): IsoDate[] {
  const from = parseIsoDate(fromText, '--from');
  const to = parseIsoDate(toText, '--to');
  const span = daysBetween(from, to);
  if (span < 0) {
    throw new AsofError(
      'usage',
      `--from ${from} is after --to ${to}`,
      {},
      'give the earlier date to --from and the later one to --to',
    );
  }
  if (span + 1 > MAX_RANGE_DAYS) {
    throw new AsofError(
      'usage',
      `the range ${from}..${to} has ${span + 1} dates, more than ${MAX_RANGE_DAYS}`,
      {},
      'split it into several runs of at most ten years',
    );
  }
  return dateRange(from, to);
}
