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
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    try {
      return Temporal.PlainDate.from(t).toZonedDateTime({ timeZone: timezone }).epochMilliseconds;
    } catch {
      return null;
    }
  }
  // the rules of an event timestamp, with its fast path for `...Z` (every served read parses one)
  return parseEventTimestamp(t, timezone);
}

/** 'YYYY-MM-DD' -> its UTC midnight, or NaN when it is not a calendar date Date.UTC keeps as is. */
const utcDays = new Map<string, number>();

function utcDayStart(text: string): number {
  const ymd = text.slice(0, 10);
  let t = utcDays.get(ymd);
  if (t === undefined) {
    const y = Number(ymd.slice(0, 4));
    const mo = Number(ymd.slice(5, 7));
    const d = Number(ymd.slice(8, 10));
    t = Date.UTC(y, mo - 1, d);
    const back = new Date(t);
    // anything Date.UTC would roll over (Feb 30, years 0-99, ...) takes the general rule
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
      t = Number.NaN;
    if (utcDays.size >= 4096) utcDays.clear();
    utcDays.set(ymd, t);
  }
  return t;
}

/** The value of the `n` decimal digits at `at`, or -1 if any is not a digit. */
function digits(text: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * The instant of `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z]` read as UTC, or null for any other text (or
 * a field out of range): the common stream shapes, one cached day start per calendar date.
 */
function utcWallClock(text: string): Instant | null {
  const n = text.length;
  if (n < 19 || text[4] !== '-' || text[7] !== '-' || text[13] !== ':' || text[16] !== ':') return null;
  if (text[10] !== 'T' && text[10] !== ' ') return null;
  if (digits(text, 0, 4) < 0 || digits(text, 5, 2) < 0 || digits(text, 8, 2) < 0) return null;
  const h = digits(text, 11, 2);
  const mi = digits(text, 14, 2);
  const s = digits(text, 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return null;
  let p = 19;
  let ms = 0;
  if (text[p] === '.') {
    const from = ++p;
    while (p < n && p - from < 10 && text.charCodeAt(p) >= 48 && text.charCodeAt(p) <= 57) p++;
    const len = p - from;
    if (len < 1 || len > 9) return null;
    // sub-millisecond digits are truncated, as Temporal's epochMilliseconds does
    ms = digits(text.slice(from, from + Math.min(len, 3)).padEnd(3, '0'), 0, 3);
  }
  if (text[p] === 'Z') p++;
  if (p !== n) return null;
  const day = utcDayStart(text);
  if (Number.isNaN(day)) return null;
  return day + h * 3_600_000 + mi * 60_000 + s * 1000 + ms;
}

/**
 * parseTimestamp with a fast path for the common stream shapes (`...Z`, or wall-clock text in a
 * UTC project): the same instant or null, without Temporal's per-call cost on the hot path.
 */
export function parseEventTimestamp(text: string, timezone: string): Instant | null {
  if (timezone === 'UTC' || text.charCodeAt(text.length - 1) === 90 /* Z */) {
    const t = utcWallClock(text);
    if (t !== null) return t;
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
