// asof show --view V --as-of D [--format csv|json|table]: print a published partition.

import { type Command, Option } from 'commander';
import { loadProject } from '../pipeline/project.js';
import { showPartition } from '../pipeline/show.js';
import { parseIsoDate } from '../time/index.js';
import { projectOption } from './common.js';
import { formatResult, type OutputFormat } from './format.js';

export function registerShow(program: Command): void {
  projectOption(
    program
      .command('show')
      .description('print a published partition')
      .requiredOption('--view <name>', 'the view')
      .requiredOption('--as-of <date>', 'the as_of_date, YYYY-MM-DD')
      .option('--feature-version <n>', 'a feature_version other than the current one', (v) =>
        Number.parseInt(v, 10),
      )
      .addOption(
        new Option('--format <format>', 'output format').choices(['csv', 'json', 'table']).default('table'),
      ),
  ).action(
    async (opts: {
      view: string;
      asOf: string;
      format: OutputFormat;
      featureVersion?: number;
      project: string;
    }) => {
      const asOf = parseIsoDate(opts.asOf, '--as-of');
      const project = await loadProject(opts.project);
      const shown = await showPartition(project, opts.view, asOf, opts.featureVersion);
      process.stdout.write(formatResult(shown.result, opts.format));
    },
  );
}
