// asof validate: checks the spec, then reads every source against its contract.

import type { Command } from 'commander';
import { loadProject } from '../pipeline/project.js';
import { validateProject } from '../pipeline/validate.js';
import { projectOption, stderrLogger } from './common.js';

export function registerValidate(program: Command): void {
  projectOption(
    program.command('validate').description("check the spec and the sources' data against their contracts"),
  ).action(async (opts: { project: string }) => {
    const project = await loadProject(opts.project);
    const report = await validateProject(project, stderrLogger);
    process.stdout.write(
      `ok: ${report.views} view(s), ${report.sources.length} source(s): ${report.sources.map((s) => `${s.name} (${s.files} file(s), ${s.rows} rows)`).join(', ')}; ${report.partitions} partition(s) match their manifest\n`,
    );
  });
}
