// asof query "SQL" [--format csv|json|table]: a read-only query against the warehouse.

import { type Command, Option } from 'commander';
import { openWarehouse } from '../elt/warehouse.js';
import type { EngineType } from '../engines/open.js';
import { AsofError } from '../errors.js';
import { loadProject } from '../pipeline/project.js';
import { engineOption, projectOption } from './common.js';
import { formatResult, type OutputFormat } from './format.js';

export function registerQuery(program: Command): void {
  projectOption(
    program
      .command('query')
      .description('run a read-only SQL query against the warehouse and print the result')
      .argument('<sql>', 'the query')
      .addOption(
        new Option('--format <format>', 'output format').choices(['csv', 'json', 'table']).default('table'),
      )
      .addOption(engineOption("query this engine's warehouse (default: the spec's engine)")),
  ).action(async (sql: string, opts: { format: OutputFormat; project: string; engine?: EngineType }) => {
    const project = await loadProject(opts.project);
    const wh = await openWarehouse(project, { readOnly: true, engine: opts.engine });
    try {
      const result = await wh.query(sql).catch((e: Error) => {
        throw new AsofError(
          'usage',
          `query failed: ${e.message.split('\n')[0]}`,
          {},
          'the warehouse is opened read-only',
        );
      });
      process.stdout.write(formatResult(result, opts.format));
    } finally {
      await wh.close();
    }
  });
}
