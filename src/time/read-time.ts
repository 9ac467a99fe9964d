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

const MS_PER_DAY = 86_400_000;

/**
 * Event timestamps of one project timezone read without Temporal on the hot path: text of the
 * shape `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z]` is its date's start plus its time of day. A date's
 * local start is cached only when the UTC offset is the same from a day before that date to a day
 * after it: then each of its wall-clock times names exactly one instant, the one parseTimestamp
 * gives. Dates near a transition (DST gaps and overlaps) and every other shape take parseTimestamp.
 */
export class EventTimestamps {
  private readonly utc: boolean;
  /** The last date read (y * 10000 + m * 100 + d), its UTC midnight and its local one (NaN: exact path). */
  private lastKey = -1;
  private lastUtc = Number.NaN;
  private lastLocal = Number.NaN;
  /** Dates read before -> [UTC midnight, local midnight], NaN where the fast path does not apply. */
  private readonly days = new Map<number, [number, number]>();

  /** Where the timestamp text of the last read ends (for `quoted`: its closing quote). */
  end = 0;

  constructor(readonly timezone: string) {
    this.utc = timezone === 'UTC';
  }

  /**
   * The instant of text[start, end) when it has the common shape and its date is away from a
   * transition (what parseTimestamp gives), or NaN: parseTimestamp decides.
   */
  read(text: string, start: number, end: number): number {
    if (end - start < 19) return Number.NaN;
    const t = this.parse(text, start, end);
    return this.end === end ? t : Number.NaN;
  }

  /**
   * `read` of the JSON string whose text starts at `start` (after its opening quote), when the
   * common shape runs up to its closing quote, which is then at `this.end`; NaN otherwise. That
   * text is digits, '-', ':', ' ', 'T', '.' and 'Z': a string without escapes.
   */
  quoted(text: string, start: number): number {
    if (start + 19 >= text.length) return Number.NaN;
    const t = this.parse(text, start, text.length);
    return text.charCodeAt(this.end) === 34 /* " */ ? t : Number.NaN;
  }

  /**
   * The instant of the common shape at text[start...] (whose 19 first characters the caller knows
   * are before `limit`), its end at `this.end`; NaN if it has another shape or its date takes the
   * exact path.
   */
  private parse(text: string, start: number, limit: number): number {
    const sep = text.charCodeAt(start + 10);
    if (
      text.charCodeAt(start + 4) !== 45 /* - */ ||
      text.charCodeAt(start + 7) !== 45 ||
      (sep !== 84 /* T */ && sep !== 32) ||
      text.charCodeAt(start + 13) !== 58 /* : */ ||
      text.charCodeAt(start + 16) !== 58
    )
      return Number.NaN;
    const y = digits(text, start, 4);
    const mo = digits(text, start + 5, 2);
    const d = digits(text, start + 8, 2);
    const h = digits(text, start + 11, 2);
    const mi = digits(text, start + 14, 2);
    const s = digits(text, start + 17, 2);
    // month and day are checked by dayOf (Date.UTC would roll them over)
    if ((y | mo | d | h | mi | s) < 0 || h > 23 || mi > 59 || s > 59) return Number.NaN;
    let p = start + 19;
    let ms = 0;
    if (p < limit && text.charCodeAt(p) === 46 /* . */) {
      const from = ++p;
      while (p < limit && p - from < 10 && isDigitCode(text.charCodeAt(p))) p++;
      const len = p - from;
      if (len < 1 || len > 9) return Number.NaN;
      // sub-millisecond digits are truncated, as Temporal's epochMilliseconds does
      ms = digits(text, from, Math.min(len, 3)) * (len === 1 ? 100 : len === 2 ? 10 : 1);
    }
    let z = false;
    if (p < limit && text.charCodeAt(p) === 90 /* Z */) {
      z = true;
      p++;
    }
    this.end = p;
    const key = y * 10000 + mo * 100 + d;
    if (key !== this.lastKey) this.dayOf(key, y, mo, d);
    // NaN stays NaN
    return (z || this.utc ? this.lastUtc : this.lastLocal) + h * 3_600_000 + mi * 60_000 + s * 1000 + ms;
  }

  private dayOf(key: number, y: number, mo: number, d: number): void {
    let day = this.days.get(key);
    if (day === undefined) {
      let u = Date.UTC(y, mo - 1, d);
      const back = new Date(u);
      // anything Date.UTC would roll over (Feb 30, years 0-99, ...) takes the exact path
      if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
        u = Number.NaN;
      day = [u, this.utc ? u : localMidnight(u, this.timezone)];
      if (this.days.size >= 4096) this.days.clear();
      this.days.set(key, day);
    }
    this.lastKey = key;
    this.lastUtc = day[0];
    this.lastLocal = day[1];
  }
}

/**
 * The instant of local midnight of the date whose UTC midnight is `u`, when one UTC offset holds
 * over [u - 1 day, u + 2 days]: every wall-clock time of that date then lies on a single instant
 * (offsets are less than a day), and parseTimestamp's disambiguation has nothing to choose.
 * NaN when a transition is in that span (or the zone is unknown: parseTimestamp says so).
 */
function localMidnight(u: number, timezone: string): number {
  if (Number.isNaN(u)) return u;
  try {
    const zoned = Temporal.Instant.fromEpochMilliseconds(u - MS_PER_DAY).toZonedDateTimeISO(timezone);
    const next = zoned.getTimeZoneTransition('next');
    if (next && next.epochMilliseconds <= u + 2 * MS_PER_DAY) return Number.NaN;
    return u - zoned.offsetNanoseconds / 1e6;
  } catch {
    return Number.NaN;
  }
}

const isDigitCode = (c: number) => c >= 48 && c <= 57;

/** The value of the `n` decimal digits at `at`, or -1 if any is not a digit. */
function digits(text: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = text.charCodeAt(i) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

const zoneTimestamps = new Map<string, EventTimestamps>();

/**
 * parseTimestamp with a fast path for the common stream shapes (EventTimestamps): the same
 * instant or null, without Temporal's per-call cost on the hot path.
 */
export function parseEventTimestamp(text: string, timezone: string): Instant | null {
  let z = zoneTimestamps.get(timezone);
  if (z === undefined) {
    z = new EventTimestamps(timezone);
    zoneTimestamps.set(timezone, z);
  }
  const t = z.read(text, 0, text.length);
  return Number.isNaN(t) ? parseTimestamp(text, timezone) : t;
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
