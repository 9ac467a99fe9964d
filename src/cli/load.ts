// asof load --source S FILE|GLOB...: land files as they are into the warehouse's raw.<source>.

import { type Command, Option } from 'commander';
import { loadRaw } from '../elt/load.js';
import type { EngineType } from '../engines/open.js';
import { loadProject } from '../pipeline/project.js';
import type { SourceFormat } from '../spec/project.js';
import { engineOption, projectOption } from './common.js';

export function registerLoad(program: Command): void {
  projectOption(
    program
      .command('load')
      .description('land raw files into the warehouse (raw.<source>), once per file content')
      .requiredOption(
        '--source <name>',
        'the source (raw.<source>); typed columns from its contract when declared',
      )
      .argument('[files...]', 'files or globs (default: the declared source path)')
      .addOption(new Option('--format <format>', 'file format').choices(['csv', 'json', 'jsonl', 'parquet']))
      .addOption(engineOption("land in this engine's warehouse (default: the spec's engine)")),
  ).action(
    async (
      files: string[],
      opts: { source: string; format?: SourceFormat; project: string; engine?: EngineType },
    ) => {
      const project = await loadProject(opts.project);
      const r = await loadRaw(project, {
        source: opts.source,
        files,
        format: opts.format,
        engine: opts.engine,
      });
      let landed = 0;
      for (const f of r.files) {
        if (f.skipped) {
          process.stdout.write(`${f.file}: already loaded (load ${f.previousLoadId}), skipped\n`);
        } else {
          landed++;
          process.stdout.write(`${f.file}: ${f.rows} rows -> ${r.table}\n`);
        }
      }
      process.stdout.write(
        landed === 0
          ? `nothing to load: every file was already loaded into ${r.table}\n`
          : `load ${r.loadId}: ${landed} file(s) into ${r.table}\n`,
      );
    },
  );
}
