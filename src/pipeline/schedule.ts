// `asof schedule`: stays running and runs the pipeline at the spec's cron expression for
// yesterday's date (relative to the fire time, in the project timezone), first catching up the
// dates missed while it was down. The clock and the sleep are passed in, so tests move time.

import { AsofError } from '../errors.js';
import type { Project } from '../spec/project.js';
import { readRuns } from '../storage/meta/runs.js';
import { lastFire, nextFire } from '../time/cron.js';
import { addDays, type Clock, dateRange, type Instant, type IsoDate, localDate } from '../time/index.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import { type RunOutcome, runPipeline } from './run.js';

export const SCHEDULE_COMMAND = 'schedule';

/**
 * The dates due at `now`: the latest fire time at or before now computes the day before its own
 * local date; the dates after the last one the scheduler ran (whatever its outcome: a failed date
 * is reported, not retried) up to it are caught up, at most `maxCatchUp` of them.
 */
export function datesDue(project: Project, expr: string, now: Instant, maxCatchUp = 31): IsoDate[] {
  const fired = lastFire(expr, project.timezone, now);
  if (fired === null) return [];
  const target = addDays(localDate(fired, project.timezone), -1);
  const done = readRuns(project.storage.offline)
    .filter((r) => r.command === SCHEDULE_COMMAND && r.as_of_date)
    .map((r) => r.as_of_date as string)
    .sort();
  const last = done[done.length - 1];
  if (last === undefined) return [target];
  if (last >= target) return [];
  return dateRange(addDays(last, 1), target).slice(-maxCatchUp);
}

export interface SchedulerOptions {
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  log?: Logger;
  /** Stop after this many wake-ups (tests); runs until `signal` aborts otherwise. */
  maxWakeups?: number;
  signal?: AbortSignal;
  maxCatchUp?: number;
  /** Runs one date (default: the whole pipeline with notify). */
  runDate?: (asOf: IsoDate) => Promise<RunOutcome>;
}

export async function runScheduler(project: Project, opts: SchedulerOptions): Promise<IsoDate[]> {
  const expr = project.schedule;
  if (!expr) {
    throw new AsofError(
      'spec',
      'the project has no schedule',
      { file: project.specFile, specPath: 'schedule' },
      'add e.g. schedule: "0 2 * * *" (every day at 02:00 in the project timezone)',
    );
  }
  const log = opts.log ?? silentLogger;
  const runDate =
    opts.runDate ??
    ((asOf: IsoDate) => runPipeline(project, { asOf, clock: opts.clock, log, command: SCHEDULE_COMMAND }));
  const ran: IsoDate[] = [];
  for (let wake = 0; opts.maxWakeups === undefined || wake < opts.maxWakeups; wake++) {
    if (opts.signal?.aborted) break;
    for (const d of datesDue(project, expr, opts.clock.now(), opts.maxCatchUp)) {
      const { summary } = await runDate(d);
      ran.push(d);
      log.info(
        `scheduled run as_of_date=${d}: ${summary.status} (exit ${summary.exit_code}) run ${summary.run_id}`,
      );
    }
    const next = nextFire(expr, project.timezone, opts.clock.now());
    if (next === null) break;
    log.info(`next run at ${new Date(next).toISOString()}`);
    await opts.sleep(Math.max(0, next - opts.clock.now()));
  }
  return ran;
}
