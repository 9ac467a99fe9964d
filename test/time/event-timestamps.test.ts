// The stream's fast timestamp path (EventTimestamps: a cached local day start plus the time of
// day) gives exactly parseTimestamp's instant (Temporal, `later` disambiguation) for wall-clock
// text without an offset: on every DST day and its neighbours in zones with one-hour, half-hour and
// no shifts, at random dates and times, and for texts of every other shape (the exact path's).

import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import { parseTimestamp } from '../../src/time/index.js';
import { EventTimestamps, parseEventTimestamp } from '../../src/time/read-time.js';

const ZONES = ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC'];
const DAY = 86_400_000;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const isoDate = (t: number) => new Date(t).toISOString().slice(0, 10);

/** The local dates of the first `n` transitions of `tz` after `from` (UTC ms). */
function transitionDates(tz: string, from: number, n: number): string[] {
  const out: string[] = [];
  let zoned = Temporal.Instant.fromEpochMilliseconds(from).toZonedDateTimeISO(tz);
  for (let k = 0; k < n; k++) {
    const next = zoned.getTimeZoneTransition('next');
    if (!next) break;
    out.push(next.toPlainDate().toString());
    zoned = next;
  }
  return out;
}

/** EventTimestamps.read of a whole text, with parseTimestamp where it declines (what the stream does). */
function fast(z: EventTimestamps, text: string): number | null {
  const t = z.read(text, 0, text.length);
  return Number.isNaN(t) ? parseTimestamp(text, z.timezone) : t;
}

describe('EventTimestamps', () => {
  it('equals parseTimestamp each 10 minutes of the days around every transition', () => {
    let fastDays = 0;
    for (const tz of ZONES) {
      const z = new EventTimestamps(tz);
      // recent rules, and the 1940s (India's war time, New York's year-round DST, British double summer time)
      const dates = [
        ...transitionDates(tz, Date.UTC(2019, 0, 1), 14),
        ...transitionDates(tz, Date.UTC(1941, 0, 1), 6),
      ];
      for (const date of dates) {
        const mid = Date.parse(`${date}T00:00:00Z`);
        for (let d = -2; d <= 2; d++) {
          const day = isoDate(mid + d * DAY);
          let declined = 0;
          for (let m = 0; m < 24 * 60; m += 10) {
            const text = `${day} ${pad(Math.floor(m / 60))}:${pad(m % 60)}:${pad((m * 7) % 60)}`;
            expect(fast(z, text), `${tz} ${text}`).toBe(parseTimestamp(text, tz));
            if (Number.isNaN(z.read(text, 0, text.length))) declined++;
          }
          // a transition's own day is never read by the fast path; a day clear of it is (UTC: all)
          if (d === 0 && tz !== 'UTC') expect(declined, `${tz} ${day}`).toBe(144);
          if (declined === 0) fastDays++;
        }
      }
    }
    expect(fastDays).toBeGreaterThan(50);
  });

  it('equals parseTimestamp at random dates and times, with fractions and Z', () => {
    const zones = new Map(ZONES.map((tz) => [tz, new EventTimestamps(tz)]));
    const text = fc
      .tuple(
        fc.oneof(
          fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) }),
          fc.integer({ min: Date.UTC(100, 0, 1), max: Date.UTC(9999, 11, 31) }),
        ),
        fc.constantFrom(' ', 'T'),
        fc.constantFrom('', '.5', '.25', '.123', '.1239', '.000000001', '.9999999999', '.'),
        fc.constantFrom('', '', 'Z'),
      )
      .map(([t, sep, f, zone]) => {
        const iso = new Date(t).toISOString();
        return `${iso.slice(0, 10)}${sep}${iso.slice(11, 19)}${f}${zone}`;
      });
    fc.assert(
      fc.property(text, fc.constantFrom(...ZONES), (t, tz) => {
        const z = zones.get(tz) as EventTimestamps;
        expect(fast(z, t)).toBe(parseTimestamp(t, tz));
        expect(parseEventTimestamp(t, tz)).toBe(parseTimestamp(t, tz));
      }),
      { numRuns: 20_000, seed: 11 },
    );
  });

  it('leaves every other shape to parseTimestamp', () => {
    const z = new EventTimestamps('Europe/London');
    for (const t of [
      '2025-06-01',
      '2025-06-01 10:00',
      '2025-06-01 24:00:00',
      '2025-06-01 10:60:00',
      '2025-06-01 10:00:60',
      '2025-02-30 10:00:00',
      '0099-06-01 10:00:00',
      '2025-06-01t10:00:00',
      '2025-06-01 10:00:00z',
      '2025-06-01 10:00:00+02:00',
      ' 2025-06-01 10:00:00',
      '2025-06-01 10:00:00 ',
      '2025/06/01 10:00:00',
      '+2025-06-01 10:00:00',
      '2025-06-01 1a:00:00',
    ]) {
      expect(z.read(t, 0, t.length), t).toBeNaN();
      expect(parseEventTimestamp(t, 'Europe/London'), t).toBe(parseTimestamp(t, 'Europe/London'));
    }
    // a summer day in London: an hour ahead of UTC, read without Temporal
    expect(z.read('2025-06-01 10:00:00.25', 0, 22)).toBe(Date.UTC(2025, 5, 1, 9, 0, 0, 250));
    expect(z.read('2025-06-01 10:00:00Z', 0, 20)).toBe(Date.UTC(2025, 5, 1, 10));
  });

  it('reads a quoted JSON value in place and says where it ends', () => {
    const z = new EventTimestamps('Asia/Kolkata');
    const line = '{"ts":"2025-06-01T10:00:00.5","x":"2025-06-01 10:00:00 "}';
    expect(z.quoted(line, 7)).toBe(Date.UTC(2025, 5, 1, 4, 30, 0, 500));
    expect(line[z.end]).toBe('"');
    expect(z.quoted(line, 35)).toBeNaN();
    expect(z.quoted('"2025-06-01 10:00:00', 1)).toBeNaN();
  });
});
