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
