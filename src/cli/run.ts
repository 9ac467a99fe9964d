// asof run [--as-of D] [--view V]...: the nightly pipeline (extract -> transform -> validate ->
// load -> notify). Each stage is one JSON line (pino) on stdout; on a terminal, a readable summary
// instead. The exit code is the outcome (see the README's exit codes).

import { type Command, Option } from 'commander';
import { pino } from 'pino';
import { loadProject } from '../pipeline/project.js';
import { type RunSummary, runPipeline } from '../pipeline/run.js';
import type { Project } from '../spec/project.js';
import type { StageRecord } from '../storage/meta/runs.js';
import { addDays, type Clock, type IsoDate, localDate, parseIsoDate, systemClock } from '../time/index.js';
import { collect, projectOption, stderrLogger } from './common.js';

/** Yesterday in the project timezone: the date a nightly run computes by default. */
export function yesterday(project: Project, clock: Clock = systemClock): IsoDate {
  return addDays(localDate(clock.now(), project.timezone), -1);
}

export function stageLogger(): (s: StageRecord & { run_id: string }) => void {
  const logger = pino(
    { base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: true }),
  );
  return (s) => logger.info(s, `${s.stage} ${s.source ?? s.view ?? ''} ${s.status}`.trim());
}

export function readableSummary(s: RunSummary): string {
  const lines = [
    `run ${s.run_id}: ${s.status} (exit ${s.exit_code}) as_of_date=${s.as_of_date} in ${s.duration_ms} ms`,
  ];
  for (const st of s.stages) {
    const who = st.source ?? st.view ?? '';
    const rows = st.rows_in === undefined ? '' : ` rows ${st.rows_in} -> ${st.rows_out ?? '-'}`;
    const rej = st.rejected ? `, ${st.rejected} rejected` : '';
    const late = st.late_event_rate === undefined ? '' : `, late-event rate ${st.late_event_rate}`;
    lines.push(
      `  ${st.stage.padEnd(9)} ${who.padEnd(16)} ${st.status.padEnd(7)} ${String(st.duration_ms).padStart(6)} ms${rows}${rej}${late}${st.detail ? `  (${st.detail})` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function registerRun(program: Command): void {
  projectOption(
    program
      .command('run')
      .description('the pipeline: extract -> transform -> validate -> load -> notify, for one date')
      .option('--as-of <date>', 'the as_of_date, YYYY-MM-DD (default: yesterday in the project timezone)')
      .option('--view <name>', 'only this view (repeatable)', collect)
      .option('--no-notify', 'skip the notify stage')
      .addOption(
        new Option(
          '--log-format <format>',
          'stage log: json lines, or a readable summary (default: pretty on a terminal)',
        ).choices(['json', 'pretty']),
      ),
  ).action(
    async (opts: {
      asOf?: string;
      view?: string[];
      project: string;
      notify: boolean;
      logFormat?: string;
    }) => {
      const project = await loadProject(opts.project);
      const asOf = opts.asOf ? parseIsoDate(opts.asOf, '--as-of') : yesterday(project);
      const pretty = (opts.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty';
      const { summary, error } = await runPipeline(project, {
        asOf,
        views: opts.view,
        log: stderrLogger,
        notify: opts.notify,
        onStage: pretty ? undefined : stageLogger(),
      });
      if (pretty) process.stdout.write(readableSummary(summary));
      if (error) throw error;
    },
  );
}
