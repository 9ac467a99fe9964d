// asof plan / asof backfill --from D1 --to D2: the SQL models to rebuild (changed, and downstream),
// then what each view partition of the range needs (new, definition changed, source changed, up to
// date); then doing exactly that, models first.

import type { Command } from 'commander';
import type { EngineType } from '../engines/open.js';
import { AsofError } from '../errors.js';
import type { PlannedPartition } from '../pipeline/backfill.js';
import { exportCdcSources } from '../pipeline/cdc-source.js';
import { backfillRange, planRange } from '../pipeline/plan-all.js';
import { loadProject } from '../pipeline/project.js';
import { selectViews } from '../spec/select.js';
import { systemClock } from '../time/index.js';
import { parseDateRange } from '../time/range.js';
import { collect, engineOption, projectOption } from './common.js';
import { modelFailures, printModelItems } from './models.js';
import { progressFor } from './progress.js';

const STATE_TEXT: Record<PlannedPartition['state'], string> = {
  new: 'new',
  definition_changed: 'definition changed',
  source_changed: 'source changed',
  corrupt: 'corrupt (checksum mismatch)',
  up_to_date: 'up to date',
};

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new AsofError('usage', `${name} '${v}' is not a positive integer`);
    }
    return n;
  };
}

function summary(planned: PlannedPartition[]): string {
  const count = (s: PlannedPartition['state']) => planned.filter((p) => p.state === s).length;
  const todo = planned.filter((p) => p.build).length;
  return `${todo} to build (${count('new')} new, ${count('definition_changed')} definition changed, ${count('source_changed')} source changed${count('corrupt') > 0 ? `, ${count('corrupt')} corrupt` : ''}${todo > planned.length - count('up_to_date') ? ', the rest forced' : ''}), ${planned.length - todo} up to date`;
}

interface RangeOpts {
  from: string;
  to: string;
  view?: string[];
  force?: boolean;
  project: string;
}

function rangeCommand(cmd: Command): Command {
  return projectOption(
    cmd
      .requiredOption('--from <date>', 'first as_of_date, YYYY-MM-DD')
      .requiredOption('--to <date>', 'last as_of_date, YYYY-MM-DD (included)')
      .option('--view <name>', 'only this view (repeatable)', collect)
      .option('--force', 'rebuild every partition, up to date or not'),
  );
}

export function registerBackfill(program: Command): void {
  rangeCommand(
    program
      .command('plan')
      .description('dry run of a backfill: every partition of the range, what would happen and why'),
  ).action(async (opts: RangeOpts) => {
    const dates = parseDateRange(opts.from, opts.to);
    const project = await loadProject(opts.project);
    // Views over CDC sources: the history as it is now, so late changes show as source changed.
    await exportCdcSources(project, selectViews(project, opts.view));
    const { models, partitions: planned } = await planRange(project, {
      dates,
      views: opts.view,
      force: opts.force,
    });
    if (models) process.stdout.write(printModelItems(models));
    for (const p of planned) {
      process.stdout.write(
        `${p.build ? 'build' : 'skip '}  ${p.view} v${p.version} as_of_date=${p.asOfDate}  ${STATE_TEXT[p.state]}: ${p.reason}\n`,
      );
    }
    process.stdout.write(`${summary(planned)}\n`);
  });

  rangeCommand(
    program
      .command('backfill')
      .description(
        'build every partition of a date range that plan says is new or stale, in one pass per chunk',
      )
      .option('--jobs <n>', 'partitions written in parallel', positiveInt('--jobs'), 1)
      .option(
        '--chunk-days <n>',
        'dates computed by one query (bounds memory)',
        positiveInt('--chunk-days'),
        31,
      )
      .addOption(engineOption("the engine to run on (default: the spec's engine, else duckdb)")),
  ).action(async (opts: RangeOpts & { jobs: number; chunkDays: number; engine?: EngineType }) => {
    const dates = parseDateRange(opts.from, opts.to);
    const project = await loadProject(opts.project);
    const progress = progressFor(process.stderr, systemClock.now);
    try {
      const result = await backfillRange(project, {
        dates,
        views: opts.view,
        force: opts.force,
        jobs: opts.jobs,
        chunkDays: opts.chunkDays,
        engine: opts.engine,
        log: progress.log,
        onProgress: (p) => progress.update(p),
      });
      progress.finish();
      const rows = result.built.reduce((n, b) => n + b.rowsWritten, 0);
      if (result.models.length > 0) {
        const ok = result.models.filter((m) => m.status === 'built').length;
        process.stdout.write(
          `rebuilt ${ok} model(s)${ok < result.models.length ? `, ${result.models.length - ok} failed or blocked` : ''}\n`,
        );
      }
      for (const h of result.heldBack) {
        process.stdout.write(`held back: view ${h.view} (reads ${h.model}, not rebuilt)\n`);
      }
      process.stdout.write(
        `backfilled ${result.built.length} partition(s) (${rows} rows), ${result.skipped} up to date skipped\n`,
      );
      const failure = modelFailures(result.models);
      if (failure) throw failure;
    } finally {
      progress.finish();
    }
  });
}
