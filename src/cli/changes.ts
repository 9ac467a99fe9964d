// asof changes: the change log of version transitions (model or view), oldest first.

import { type Command, Option } from 'commander';
import { loadProject } from '../pipeline/project.js';
import { readChanges } from '../storage/meta/models.js';
import { projectOption } from './common.js';

export function registerChanges(program: Command): void {
  projectOption(
    program
      .command('changes')
      .description('list every version transition of models and views, with a short diff')
      .option('--name <name>', 'only this model or view')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text')),
  ).action(async (opts: { name?: string; format: 'text' | 'json'; project: string }) => {
    const project = await loadProject(opts.project);
    const changes = readChanges(project.root).filter((c) => !opts.name || c.name === opts.name);
    if (opts.format === 'json') {
      process.stdout.write(`${JSON.stringify(changes, null, 2)}\n`);
      return;
    }
    if (changes.length === 0) process.stdout.write('no changes recorded\n');
    for (const c of changes) {
      const parts =
        c.partitions.length > 6
          ? `${c.partitions[0]}..${c.partitions.at(-1)} (${c.partitions.length})`
          : c.partitions.join(', ');
      process.stdout.write(
        `${c.at}  ${c.kind} ${c.name}  ${c.old_version ?? '(new)'} -> ${c.new_version}  ${c.reason}  partitions: ${parts || '-'}\n`,
      );
      for (const d of c.diff) process.stdout.write(`    ${d}\n`);
    }
  });
}
