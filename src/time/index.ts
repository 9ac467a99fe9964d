// Every rule about time lives here once: calendar dates, cutoffs, window starts, local <-> instant.
// Days are calendar days in the project timezone; instants are epoch milliseconds (UTC).

import { Temporal } from 'temporal-polyfill';
import { AsofError } from '../errors.js';
import { zoneSpans } from './local-clock.js';

/** A calendar date as 'YYYY-MM-DD'. */
export type IsoDate = string;
/** An instant as epoch milliseconds. */
export type Instant = number;

export type CutoffRule = 'end_of_day' | 'start_of_day';

export type Window = { kind: 'hours'; n: number } | { kind: 'days'; n: number } | { kind: 'all' };

/** A source of "now", passed in so that tests can fix it. */
export interface Clock {
  now(): Instant;
}
export const systemClock: Clock = { now: () => Date.now() };

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses 'YYYY-MM-DD' strictly (a real calendar date), or throws a usage error naming `what`. */
export function parseIsoDate(text: string, what = 'date'): IsoDate {
  const m = DATE_RE.exec(text.trim());
  if (m) {
    try {
      return Temporal.PlainDate.from(text.trim(), { overflow: 'reject' }).toString();
    } catch {
      // fall through to the error below
    }
  }
  throw new AsofError('usage', `${what} '${text}' is not a date; expected YYYY-MM-DD, e.g. 2025-01-10`);
}

export function isValidTimeZone(tz: string): boolean {
  try {
    Temporal.Now.instant().toZonedDateTimeISO(tz);
    return true;
  } catch {
    return false;
  }
}

/** Zones that are UTC at every instant: local time is UTC time, and N days are N x 24 hours. */
const UTC_ZONES = new Set([
  'UTC',
  'Etc/UTC',
  'GMT',
  'Etc/GMT',
  'Etc/Universal',
  'Universal',
  'Zulu',
  'Etc/Zulu',
]);

export function isUtcZone(tz: string): boolean {
  return UTC_ZONES.has(tz);
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return Temporal.PlainDate.from(date).add({ days }).toString();
}

/** Whole days from `from` to `to` (positive when `to` is later). */
export function daysBetween(from: IsoDate, to: IsoDate): number {
  return Temporal.PlainDate.from(from).until(Temporal.PlainDate.from(to), { largestUnit: 'days' }).days;
}

/** Every date from `from` to `to`, both included. */
export function dateRange(from: IsoDate, to: IsoDate): IsoDate[] {
  const out: IsoDate[] = [];
  for (let d = from; daysBetween(d, to) >= 0; d = addDays(d, 1)) out.push(d);
  return out;
}

/** The first instant of a local calendar date (local midnight, or the first valid time on DST-gap days). */
export function startOfLocalDay(date: IsoDate, timezone: string): Instant {
  return Temporal.PlainDate.from(date).toZonedDateTime({ timeZone: timezone }).epochMilliseconds;
}

/**
 * The exclusive cutoff instant of a partition: `end_of_day` covers events before D+1 00:00 local,
 * `start_of_day` events before D 00:00 local.
 */
export function cutoffInstant(asOfDate: IsoDate, rule: CutoffRule, timezone: string): Instant {
  return startOfLocalDay(rule === 'end_of_day' ? addDays(asOfDate, 1) : asOfDate, timezone);
}

/**
 * The inclusive start of a window ending (exclusively) at `cutoff`: `Nd` is N calendar days before
 * in the project timezone (same wall-clock time, so DST days count as 23 or 25 hours), `Nh` exactly
 * N hours before. `all` has no start (null).
 */
export function windowStart(cutoff: Instant, window: Window, timezone: string): Instant | null {
  switch (window.kind) {
    case 'all':
      return null;
    case 'hours':
      return cutoff - window.n * 3_600_000;
    case 'days':
      return (
        zoneSpans(timezone).minusDays(cutoff, window.n) ??
        Temporal.Instant.fromEpochMilliseconds(cutoff)
          .toZonedDateTimeISO(timezone)
          .subtract({ days: window.n }).epochMilliseconds
      );
  }
}

/**
 * The instant `window` after `start` (the mirror of windowStart): used for allowed lateness, the
 * deadline after a cutoff. `Nd` is N calendar days later in the project timezone; `all` is never.
 */
export function windowEndAfter(start: Instant, window: Window, timezone: string): Instant {
  switch (window.kind) {
    case 'all':
      return Number.POSITIVE_INFINITY;
    case 'hours':
      return start + window.n * 3_600_000;
    case 'days':
      return Temporal.Instant.fromEpochMilliseconds(start)
        .toZonedDateTimeISO(timezone)
        .add({ days: window.n }).epochMilliseconds;
  }
}

/** The local calendar date of an instant. */
export function localDate(instant: Instant, timezone: string): IsoDate {
  // cached per span of constant UTC offset: the read path asks this for every served value
  return zoneSpans(timezone).localDate(instant);
}

const OFFSET_RE = /(Z|[+-]\d{2}(:?\d{2})?)$/i;

/**
 * A wall-clock time ('YYYY-MM-DD HH:MM:SS' or with T) in `timezone` to an instant. Times skipped by
 * a DST jump move forward, and times that occur twice resolve to the later instant, as DuckDB's
 * timezone() and PostgreSQL do, so batch and stream agree.
 */
export function localToInstant(wallTime: string, timezone: string): Instant {
  return Temporal.PlainDateTime.from(wallTime.replace(' ', 'T')).toZonedDateTime(timezone, {
    disambiguation: 'later',
  }).epochMilliseconds;
}

/**
 * Parses an event timestamp: with an offset (Z, +02:00) it is that instant; without one it is local
 * time in `timezone` (see localToInstant). Returns null when the text is not a timestamp.
 */
export function parseTimestamp(text: string, timezone: string): Instant | null {
  const t = text.trim().replace(' ', 'T');
  try {
    if (OFFSET_RE.test(t) && t.length > 10) return Temporal.Instant.from(t).epochMilliseconds;
    return Temporal.PlainDateTime.from(t).toZonedDateTime(timezone, { disambiguation: 'later' })
      .epochMilliseconds;
  } catch {
    return null;
  }
}

/** An instant as an ISO-8601 UTC string with milliseconds, e.g. 2025-01-11T00:00:00.000Z. */
export function formatInstant(instant: Instant): string {
  return new Date(instant).toISOString();
}

/** Parses a window such as `7d`, `24h` or `all`; null when it is not one. */
export function parseWindow(text: string): Window | null {
  const t = text.trim().toLowerCase();
  if (t === 'all') return { kind: 'all' };
  const m = /^(\d{1,5})([dh])$/.exec(t);
  if (!m || Number(m[1]) <= 0) return null;
  return { kind: m[2] === 'd' ? 'days' : 'hours', n: Number(m[1]) };
}

export function formatWindow(w: Window): string {
  return w.kind === 'all' ? 'all' : `${w.n}${w.kind === 'days' ? 'd' : 'h'}`;
}
