// asof training-set --labels FILE --time-column COL --out FILE: every label row with each view's
// features as they were just before its time (exact), or from the latest published partition.

import { type Command, Option } from 'commander';
import type { EngineType } from '../engines/open.js';
import { loadProject } from '../pipeline/project.js';
import { trainingSet } from '../pipeline/training-set.js';
import type { TrainingSetMode } from '../plan/training-set.js';
import { collect, engineOption, projectOption, stderrLogger } from './common.js';

export function registerTrainingSet(program: Command): void {
  projectOption(
    program
      .command('training-set')
      .description('add point-in-time features to label rows (no event at or after each label time)')
      .requiredOption(
        '--labels <file>',
        'label rows: csv, jsonl or parquet with the entity key(s) and a time',
      )
      .requiredOption('--time-column <col>', 'the label time column')
      .requiredOption('--out <file>', 'output file: .csv or .parquet')
      .option('--views <names>', 'only these views (comma-separated, repeatable)', collect)
      .option('--full-names', 'name feature columns <view>__<feature>')
      .option('--ignore-arrival', 'count rows by event time only, even when the source declares ingested_at')
      .addOption(
        new Option('--mode <mode>', 'exact times, or the latest published partition at or before t')
          .choices(['exact', 'partitions'])
          .default('exact'),
      )
      .addOption(
        engineOption("the engine computing exact features (default: the spec's engine, else duckdb)"),
      ),
  ).action(
    async (opts: {
      labels: string;
      timeColumn: string;
      out: string;
      views?: string[];
      fullNames?: boolean;
      ignoreArrival?: boolean;
      mode: TrainingSetMode;
      engine?: EngineType;
      project: string;
    }) => {
      const project = await loadProject(opts.project);
      const { engine, ...rest } = opts;
      const r = await trainingSet(project, { ...rest, engineType: engine, log: stderrLogger });
      process.stdout.write(
        `wrote ${r.rows} rows x ${r.columns.length} columns to ${r.out} in ${(r.durationMs / 1000).toFixed(2)} s\n`,
      );
    },
  );
}
