// Time rules of a read at an arbitrary instant (streaming and serving): which as_of_date a read
// time stands for, so that a read at a partition's cutoff answers what that partition holds.

import { Temporal } from 'temporal-polyfill';
import {
  addDays,
  type CutoffRule,
  type Instant,
  type IsoDate,
  localDate,
  parseTimestamp,
  startOfLocalDay,
} from './index.js';

/**
 * The as_of_date of a read at `at`: with `end_of_day` the local date of the last visible instant
 * (at - 1 ms), with `start_of_day` the local date of `at`. At a partition's cutoff both give that
 * partition's date, so days_since_last agrees with `asof build`.
 */
export function asOfDateAt(at: Instant, rule: CutoffRule, timezone: string): IsoDate {
  return localDate(rule === 'end_of_day' ? at - 1 : at, timezone);
}

/** Parses a read time: an ISO instant with offset, a local timestamp, or a date (its local midnight). */
export function parseReadTime(text: string, timezone: string): Instant | null {
  const t = text.trim();
  try {
    if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
      return Temporal.PlainDate.from(t).toZonedDateTime({ timeZone: timezone }).epochMilliseconds;
    }
    if (/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(t) && t.length > 10) {
      return Temporal.Instant.from(t.replace(' ', 'T')).epochMilliseconds;
    }
    return Temporal.PlainDateTime.from(t.replace(' ', 'T')).toZonedDateTime(timezone, {
      disambiguation: 'later',
    }).epochMilliseconds;
  } catch {
    return null;
  }
}

const UTC_WALL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z?)$/;

/**
 * parseTimestamp with a fast path for the common stream shapes (`...Z`, or wall-clock text in a
 * UTC project): the same instant or null, without Temporal's per-call cost on the hot path.
 */
export function parseEventTimestamp(text: string, timezone: string): Instant | null {
  const m = UTC_WALL.exec(text);
  if (m && (m[8] === 'Z' || timezone === 'UTC')) {
    const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
    // sub-millisecond digits are truncated, as Temporal's epochMilliseconds does
    const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
    const t = Date.UTC(y as number, (mo as number) - 1, d, h, mi, s, ms);
    const back = new Date(t);
    // anything Date.UTC would roll over (Feb 30, second 60, ...) takes the general rule below
    if (
      back.getUTCFullYear() === y &&
      back.getUTCMonth() === (mo as number) - 1 &&
      back.getUTCDate() === d &&
      back.getUTCHours() === h &&
      back.getUTCMinutes() === mi &&
      back.getUTCSeconds() === s
    ) {
      return t;
    }
  }
  return parseTimestamp(text, timezone);
}

/** Local dates of instants, remembering the last day's bounds (the hot path of partitioning). */
export class LocalDays {
  private start = Number.POSITIVE_INFINITY;
  private end = Number.NEGATIVE_INFINITY;
  private date: IsoDate = '';
  constructor(private readonly timezone: string) {}

  dateOf(at: Instant): IsoDate {
    if (at >= this.start && at < this.end) return this.date;
    this.date = localDate(at, this.timezone);
    this.start = startOfLocalDay(this.date, this.timezone);
    this.end = startOfLocalDay(addDays(this.date, 1), this.timezone);
    return this.date;
  }
}
