// The read path's cached window math (ZoneSpans) equals Temporal's for every instant: random
// instants in zones with DST, half-hour shifts and a skipped calendar day, and each transition's
// neighbourhood.

import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import { ZoneSpans } from '../../src/time/local-clock.js';

const ZONES = [
  'UTC',
  'Europe/Paris',
  'America/New_York',
  'America/Sao_Paulo',
  'Australia/Lord_Howe',
  'Pacific/Apia',
  'Asia/Kolkata',
];
const DAY = 86_400_000;

const temporalDate = (t: number, tz: string) =>
  Temporal.Instant.fromEpochMilliseconds(t).toZonedDateTimeISO(tz).toPlainDate().toString();
const temporalMinusDays = (t: number, n: number, tz: string) =>
  Temporal.Instant.fromEpochMilliseconds(t).toZonedDateTimeISO(tz).subtract({ days: n }).epochMilliseconds;

describe('ZoneSpans', () => {
  it('gives the local date and the N-days-before instant Temporal gives, at random instants', () => {
    const spans = new Map(ZONES.map((z) => [z, new ZoneSpans(z)]));
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.integer({ min: Date.UTC(2009, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.integer({ min: 1, max: 400 }),
        (tz, t, n) => {
          const z = spans.get(tz) as ZoneSpans;
          expect(z.localDate(t)).toBe(temporalDate(t, tz));
          const fast = z.minusDays(t, n);
          if (fast !== null) expect(fast).toBe(temporalMinusDays(t, n, tz));
        },
      ),
      { numRuns: 20_000, seed: 42 },
    );
  });

  it('is exact around every transition (each 15 minutes over the two days around it)', () => {
    for (const tz of ZONES) {
      const z = new ZoneSpans(tz);
      let zoned = Temporal.Instant.fromEpochMilliseconds(Date.UTC(2011, 0, 1)).toZonedDateTimeISO(tz);
      for (let k = 0; k < 6; k++) {
        const next = zoned.getTimeZoneTransition('next');
        if (!next) break;
        const tr = next.epochMilliseconds;
        for (let t = tr - DAY; t <= tr + DAY; t += 900_000) {
          expect(z.localDate(t), `${tz} ${t}`).toBe(temporalDate(t, tz));
          for (const n of [1, 2, 7]) {
            const fast = z.minusDays(t + n * DAY, n);
            if (fast !== null) expect(fast, `${tz} ${t} ${n}`).toBe(temporalMinusDays(t + n * DAY, n, tz));
          }
        }
        zoned = next;
      }
    }
  });

  it('takes the fast path away from transitions', () => {
    const z = new ZoneSpans('Europe/Paris');
    expect(z.minusDays(Date.UTC(2025, 5, 15, 12), 7)).toBe(Date.UTC(2025, 5, 8, 12));
    // across the spring-forward of 2025-03-30 the offset differs: Temporal decides
    expect(z.minusDays(Date.UTC(2025, 3, 2, 12), 7)).toBeNull();
  });
});
