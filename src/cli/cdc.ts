// asof cdc apply|run|status|show|drop: change-data-capture into cdc.<source> and cdc.<source>_history.

import { type Command, Option } from 'commander';
import { formatLsn } from '../cdc/events.js';
import { AsofError } from '../errors.js';
import { applyCdcFiles, cdcAsOf, cdcStatus, dropCdc, runCdc } from '../pipeline/cdc.js';
import { loadProject } from '../pipeline/project.js';
import { cutoffInstant, parseIsoDate, parseTimestamp, systemClock } from '../time/index.js';
import { projectOption, stderrLogger } from './common.js';
import { formatResult, type OutputFormat } from './format.js';

export function registerCdc(program: Command): void {
  const cdc = program
    .command('cdc')
    .description('capture inserts, updates and deletes (Debezium files, PostgreSQL)');

  projectOption(
    cdc
      .command('apply')
      .description('apply Debezium change files to cdc.<source> and its history (idempotent)')
      .requiredOption('--source <name>', 'the CDC source')
      .argument('<files...>', 'Debezium JSON envelopes: JSON lines or one JSON array per file'),
  ).action(async (files: string[], opts: { source: string; project: string }) => {
    const project = await loadProject(opts.project);
    const r = await applyCdcFiles(project, opts.source, files, systemClock);
    process.stdout.write(
      `${opts.source}: ${r.received} change(s) from ${r.files} file(s): ${r.applied} applied, ${r.skipped} already applied or stale; position ${formatLsn(r.position)}\n`,
    );
  });

  projectOption(
    cdc
      .command('run')
      .description('follow the PostgreSQL slot: snapshot once, then stream until SIGINT/SIGTERM')
      .requiredOption('--source <name>', 'the CDC source'),
  ).action(async (opts: { source: string; project: string }) => {
    const project = await loadProject(opts.project);
    let stop = false;
    const onSignal = () => {
      stop = true;
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const s = await runCdc(project, opts.source, {
        clock: systemClock,
        log: stderrLogger,
        stopped: () => stop,
      });
      process.stdout.write(
        `${opts.source}: ${s.snapshotRows} snapshot row(s), ${s.applied} change(s) in ${s.batches} batch(es), position ${formatLsn(s.position)}\n`,
      );
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });

  projectOption(
    cdc
      .command('status')
      .description('applied position and changes; for PostgreSQL the slot, confirmed LSN and lag')
      .requiredOption('--source <name>', 'the CDC source'),
  ).action(async (opts: { source: string; project: string }) => {
    const project = await loadProject(opts.project);
    const s = await cdcStatus(project, opts.source, systemClock);
    process.stdout.write(
      `${JSON.stringify(
        {
          ...s,
          slot: s.slot && {
            ...s.slot,
            confirmedLsn: s.slot.confirmedLsn === undefined ? null : formatLsn(s.slot.confirmedLsn),
          },
        },
        null,
        2,
      )}\n`,
    );
  });

  projectOption(
    cdc
      .command('show')
      .description('the rows as they were at a cutoff (--as-of D) or an instant (--at TIMESTAMP)')
      .requiredOption('--source <name>', 'the CDC source')
      .option('--as-of <date>', 'an as_of_date: the state at its cutoff')
      .addOption(
        new Option('--cutoff <rule>', 'the cutoff rule of --as-of')
          .choices(['end_of_day', 'start_of_day'])
          .default('end_of_day'),
      )
      .option('--at <timestamp>', 'an instant (with an offset, or local to the project timezone)')
      .addOption(
        new Option('--format <format>', 'output format').choices(['csv', 'json', 'table']).default('table'),
      ),
  ).action(
    async (opts: {
      source: string;
      asOf?: string;
      cutoff: 'end_of_day' | 'start_of_day';
      at?: string;
      format: OutputFormat;
      project: string;
    }) => {
      const project = await loadProject(opts.project);
      if ((opts.asOf === undefined) === (opts.at === undefined)) {
        throw new AsofError('usage', 'give exactly one of --as-of D or --at TIMESTAMP');
      }
      let instant: number;
      if (opts.asOf !== undefined) {
        instant = cutoffInstant(parseIsoDate(opts.asOf, '--as-of'), opts.cutoff, project.timezone);
      } else {
        const t = parseTimestamp(opts.at ?? '', project.timezone);
        if (t === null) throw new AsofError('usage', `--at: '${opts.at}' is not a timestamp`);
        instant = t;
      }
      process.stdout.write(formatResult(await cdcAsOf(project, opts.source, instant), opts.format));
    },
  );

  projectOption(
    cdc
      .command('drop')
      .description('drop the replication slot (releases retained WAL), the CDC tables and the position')
      .requiredOption('--source <name>', 'the CDC source'),
  ).action(async (opts: { source: string; project: string }) => {
    const project = await loadProject(opts.project);
    const r = await dropCdc(project, opts.source);
    process.stdout.write(
      `${opts.source}: dropped${r.slotDropped ? ' the slot,' : ''} the CDC tables and position\n`,
    );
  });
}
