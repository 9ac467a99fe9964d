// asof schedule: stays running and runs the pipeline at the spec's cron `schedule` for
// yesterday's date, catching up the dates missed while it was down. Stops on SIGINT / SIGTERM.

import type { Command } from 'commander';
import { loadProject } from '../pipeline/project.js';
import { runPipeline } from '../pipeline/run.js';
import { runScheduler, SCHEDULE_COMMAND } from '../pipeline/schedule.js';
import { systemClock } from '../time/index.js';
import { projectOption, stderrLogger } from './common.js';
import { stageLogger } from './run.js';

export function registerSchedule(program: Command): void {
  projectOption(
    program
      .command('schedule')
      .description("run the pipeline at the spec's cron schedule for yesterday, catching up missed dates")
      .option(
        '--max-catch-up <n>',
        'at most this many missed dates are caught up',
        (v) => Number.parseInt(v, 10),
        31,
      ),
  ).action(async (opts: { project: string; maxCatchUp: number }) => {
    const project = await loadProject(opts.project);
    const stop = new AbortController();
    let wake: (() => void) | undefined;
    const onSignal = () => {
      stop.abort();
      wake?.();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const onStage = stageLogger();
    await runScheduler(project, {
      clock: systemClock,
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        }),
      signal: stop.signal,
      log: stderrLogger,
      maxCatchUp: opts.maxCatchUp,
      runDate: (asOf) =>
        runPipeline(project, {
          asOf,
          clock: systemClock,
          log: stderrLogger,
          onStage,
          command: SCHEDULE_COMMAND,
        }),
    });
  });
}
