// asof build --as-of D [--view V]...: one partition per view for date D.

import type { Command } from 'commander';
import type { EngineType } from '../engines/open.js';
import { build } from '../pipeline/build.js';
import { loadProject } from '../pipeline/project.js';
import { parseIsoDate } from '../time/index.js';
import { collect, engineOption, projectOption, stderrLogger } from './common.js';

export function registerBuild(program: Command): void {
  projectOption(
    program
      .command('build')
      .description("compute every view's features as of a date and write one partition per view")
      .requiredOption('--as-of <date>', 'the as_of_date, YYYY-MM-DD')
      .option('--view <name>', 'only this view (repeatable)', collect)
      .addOption(engineOption("the engine to run on (default: the spec's engine, else duckdb)")),
  ).action(async (opts: { asOf: string; view?: string[]; project: string; engine?: EngineType }) => {
    const asOf = parseIsoDate(opts.asOf, '--as-of');
    const project = await loadProject(opts.project);
    const built = await build(project, { asOf, views: opts.view, log: stderrLogger, engine: opts.engine });
    process.stdout.write(`built ${built.length} partition(s) as of ${asOf}\n`);
  });
}
