// Cron schedules (`schedule: "0 2 * * *"` in the spec) in the project timezone: validation and
// fire times, via croner. Pure: no clock is read here, instants are passed in.

import { Cron } from 'croner';
import type { Instant } from './index.js';

function cron(expr: string, timezone: string): Cron {
  return new Cron(expr, { timezone, paused: true });
}

/** The problem with a cron expression, or undefined when it is valid. */
export function cronProblem(expr: string, timezone: string): string | undefined {
  try {
    cron(expr, timezone);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The first fire time strictly after `after`, or null when there is none. */
export function nextFire(expr: string, timezone: string, after: Instant): Instant | null {
  const next = cron(expr, timezone).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/** The latest fire time at or before `at` (searching back at most `lookbackDays`), or null. */
export function lastFire(expr: string, timezone: string, at: Instant, lookbackDays = 400): Instant | null {
  // croner only walks forward: step from a day window before `at` and keep the last fire <= at.
  const c = cron(expr, timezone);
  for (let span = 1; span <= lookbackDays; span *= 2) {
    let t: Instant = at - span * 86_400_000;
    let last: Instant | null = null;
    for (;;) {
      const n = c.nextRun(new Date(t));
      if (!n || n.getTime() > at) break;
      last = n.getTime();
      t = last;
    }
    if (last !== null) return last;
  }
  return null;
}
