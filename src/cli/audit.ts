// asof audit --labels FILE --time-column COL [--sample N]: for sampled label rows, the latest event
// time each feature used beside the label time; exit 4 when any is at or after the label time.

import type { Command } from 'commander';
import { AsofError } from '../errors.js';
import { loadProject } from '../pipeline/project.js';
import { audit } from '../pipeline/training-set.js';
import { collect, projectOption } from './common.js';
import { formatResult } from './format.js';

export function registerAudit(program: Command): void {
  projectOption(
    program
      .command('audit')
      .description(
        'check sampled label rows for target leakage: no feature may use an event at or after the label time',
      )
      .requiredOption('--labels <file>', 'label rows: csv, jsonl or parquet')
      .requiredOption('--time-column <col>', 'the label time column')
      .option(
        '--sample <n>',
        'how many rows to check (a fixed seed: same file, same rows)',
        (v) => Number.parseInt(v, 10),
        100,
      )
      .option('--views <names>', 'only these views (comma-separated, repeatable)', collect)
      .option('--ignore-arrival', 'audit the plan that ignores ingested_at'),
  ).action(
    async (opts: {
      labels: string;
      timeColumn: string;
      sample: number;
      views?: string[];
      ignoreArrival?: boolean;
      project: string;
    }) => {
      if (!Number.isInteger(opts.sample) || opts.sample <= 0) {
        throw new AsofError('usage', `--sample must be a positive integer, got '${opts.sample}'`);
      }
      const project = await loadProject(opts.project);
      const report = await audit(project, opts);
      const result = {
        columns: ['row', 'keys', 'label_time', 'view', 'feature', 'latest_event_used', 'status'].map(
          (name) => ({
            name,
            type: 'VARCHAR',
          }),
        ),
        rows: report.findings.map((f) => [
          f.row,
          Object.values(f.keys).map(String).join('|'),
          f.labelTime,
          f.view,
          f.feature,
          f.latestEvent,
          f.leak ? 'LEAK' : 'ok',
        ]),
      };
      process.stdout.write(formatResult(result, 'table'));
      process.stdout.write(
        `audited ${report.sampled} label row(s), ${report.findings.length} feature value(s): ${report.leaks} leak(s)\n`,
      );
      if (report.leaks > 0) {
        throw new AsofError(
          'quality',
          `${report.leaks} feature value(s) used an event at or after the label time`,
          { file: opts.labels },
          'this is target leakage: the rows marked LEAK above show which feature and which row',
        );
      }
    },
  );
}
