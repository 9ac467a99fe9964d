// Fast local calendar fields (date, hour, day of week) of many instants in one timezone, for the
// per-event paths (expression evaluation, streaming); the rules are those of time/index.ts.

import { Temporal } from 'temporal-polyfill';

const MS_PER_DAY = 86_400_000;
const MS_PER_HOUR = 3_600_000;

/**
 * Local calendar fields of instants in one timezone. Remembers the span over which the UTC offset
 * is constant, so a stream of events costs one Temporal lookup per DST period, not one per event.
 */
export class LocalClock {
  private from = 0;
  private to = 0;
  private offsetMs = 0;

  constructor(private readonly timezone: string) {}

  localDate(epochMs: number): string {
    return civilDate(Math.floor(this.localMs(epochMs) / MS_PER_DAY));
  }

  localHour(epochMs: number): number {
    const ms = this.localMs(epochMs);
    return Math.floor((ms - Math.floor(ms / MS_PER_DAY) * MS_PER_DAY) / MS_PER_HOUR);
  }

  /** ISO day of week, 1 = Monday .. 7 = Sunday; 1970-01-01 was a Thursday. */
  isoDayOfWeek(epochMs: number): number {
    const days = Math.floor(this.localMs(epochMs) / MS_PER_DAY);
    return ((((days + 3) % 7) + 7) % 7) + 1;
  }

  private localMs(epochMs: number): number {
    if (!(epochMs >= this.from && epochMs < this.to)) this.lookUp(epochMs);
    return epochMs + this.offsetMs;
  }

  private lookUp(epochMs: number): void {
    const instantMs = Math.floor(epochMs);
    const zoned = Temporal.Instant.fromEpochMilliseconds(instantMs).toZonedDateTimeISO(this.timezone);
    this.offsetMs = zoned.offsetNanoseconds / 1e6;
    const previous = zoned.getTimeZoneTransition('previous');
    const next = zoned.getTimeZoneTransition('next');
    this.from = previous ? Math.max(previous.epochMilliseconds, this.spanStart(zoned, instantMs)) : -Infinity;
    this.to = next ? next.epochMilliseconds : Infinity;
  }

  /** An instant exactly on a transition has that transition as its span's start, not the one before. */
  private spanStart(zoned: Temporal.ZonedDateTime, instantMs: number): number {
    const before = zoned.subtract({ nanoseconds: 1 });
    return before.offsetNanoseconds === zoned.offsetNanoseconds ? -Infinity : instantMs;
  }
}

/** Days since 1970-01-01 to 'YYYY-MM-DD' (proleptic Gregorian; H. Hinnant's civil_from_days). */
function civilDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** One span of constant UTC offset: [from, to). */
interface Span {
  from: number;
  to: number;
  offsetMs: number;
}

/**
 * The read path's cached window math in one timezone (serving computes window starts and local
 * dates for every read): the same results as time/index.ts, with Temporal consulted once per
 * span of constant UTC offset (a few per year), and always on the days around a transition.
 */
export class ZoneSpans {
  private readonly spans: Span[] = [];

  constructor(private readonly timezone: string) {}

  private spanOf(epochMs: number): Span {
    for (const s of this.spans) if (epochMs >= s.from && epochMs < s.to) return s;
    const zoned = Temporal.Instant.fromEpochMilliseconds(Math.floor(epochMs)).toZonedDateTimeISO(
      this.timezone,
    );
    const previous = zoned.getTimeZoneTransition('previous');
    const next = zoned.getTimeZoneTransition('next');
    const s: Span = {
      // an instant exactly on a transition starts its span (previous is strictly before it)
      from: previous ? previous.epochMilliseconds : Number.NEGATIVE_INFINITY,
      to: next ? next.epochMilliseconds : Number.POSITIVE_INFINITY,
      offsetMs: zoned.offsetNanoseconds / 1e6,
    };
    if (zoned.subtract({ nanoseconds: 1 }).offsetNanoseconds !== zoned.offsetNanoseconds)
      s.from = Math.floor(epochMs);
    this.spans.unshift(s);
    if (this.spans.length > 8) this.spans.pop();
    return s;
  }

  /** The local calendar date of an instant (time/index.ts localDate). */
  localDate(epochMs: number): string {
    const s = this.spanOf(epochMs);
    return civilDate(Math.floor((Math.floor(epochMs) + s.offsetMs) / MS_PER_DAY));
  }

  /**
   * The instant `days` calendar days before `epochMs` at the same wall-clock time (time/index.ts
   * windowStart of an `Nd` window), or null when a transition is within a day of the result and
   * Temporal's disambiguation must decide.
   */
  minusDays(epochMs: number, days: number): number | null {
    const s = this.spanOf(epochMs);
    const c = epochMs - days * MS_PER_DAY;
    // same offset at both ends, and no other instant with the same wall-clock time (any such
    // instant lies across a transition, which is more than a day away)
    return c >= s.from + MS_PER_DAY && c < s.to - MS_PER_DAY && Number.isInteger(epochMs) ? c : null;
  }
}

const zones = new Map<string, ZoneSpans>();

/** The shared ZoneSpans of a timezone. */
export function zoneSpans(timezone: string): ZoneSpans {
  let z = zones.get(timezone);
  if (!z) {
    z = new ZoneSpans(timezone);
    zones.set(timezone, z);
  }
  return z;
}
