// asof get --view V --key K [--at T] [--format json|table]: the online values of one entity,
// computed for the read time (default now).

import { type Command, Option } from 'commander';
import { AsofError } from '../errors.js';
import { getOnline } from '../pipeline/online-read.js';
import { loadProject } from '../pipeline/project.js';
import { systemClock } from '../time/index.js';
import { parseReadTime } from '../time/read-time.js';
import { projectOption } from './common.js';

export function registerGet(program: Command): void {
  projectOption(
    program
      .command('get')
      .description('read one entity from the online store, as of a read time')
      .requiredOption('--view <name>', 'the view')
      .requiredOption('--key <key>', 'the entity key (JSON array for composite keys)')
      .option('--at <timestamp>', 'read time: ISO instant, local timestamp or date (default now)')
      .addOption(new Option('--format <format>', 'output format').choices(['json', 'table']).default('json')),
  ).action(
    async (opts: { view: string; key: string; at?: string; format: 'json' | 'table'; project: string }) => {
      const project = await loadProject(opts.project);
      const at = opts.at === undefined ? systemClock.now() : parseReadTime(opts.at, project.timezone);
      if (at === null)
        throw new AsofError('usage', `--at '${opts.at}' is not a timestamp`, {}, 'e.g. 2025-03-31T12:00:00Z');
      const r = await getOnline(project, opts.view, opts.key, at);
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const rows = r.values ? Object.entries(r.values) : [];
      const w = Math.max(7, ...rows.map(([k]) => k.length));
      const lines = [
        `${r.view} ${r.key} at ${r.at}`,
        ...(r.values
          ? rows.map(([k, v]) => `${k.padEnd(w)}  ${v === null ? 'NULL' : String(v)}`)
          : ['(absent)']),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    },
  );
}
