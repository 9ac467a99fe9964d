// asof parity --view V --at T [--sample N]: online values vs batch over the same events; prints
// mismatches and exits 4 when there is any.

import type { Command } from 'commander';
import { AsofError } from '../errors.js';
import { checkParity } from '../pipeline/online-read.js';
import { loadProject } from '../pipeline/project.js';
import { parseReadTime } from '../time/read-time.js';
import { projectOption } from './common.js';

export function registerParity(program: Command): void {
  projectOption(
    program
      .command('parity')
      .description('compare online values with a batch computation at a read time (exit 4 on mismatch)')
      .requiredOption('--view <name>', 'the view')
      .requiredOption('--at <timestamp>', 'read time: ISO instant, local timestamp or date')
      .option('--sample <n>', 'compare only N entities, spread over the sorted keys', (v) =>
        Number.parseInt(v, 10),
      ),
  ).action(async (opts: { view: string; at: string; sample?: number; project: string }) => {
    const project = await loadProject(opts.project);
    const at = parseReadTime(opts.at, project.timezone);
    if (at === null) throw new AsofError('usage', `--at '${opts.at}' is not a timestamp`);
    const r = await checkParity(project, opts.view, at, opts.sample);
    for (const m of r.mismatches.slice(0, 50)) {
      process.stdout.write(
        `mismatch ${m.key} ${m.feature}: online ${JSON.stringify(m.online ?? null)} batch ${JSON.stringify(m.batch ?? null)}\n`,
      );
    }
    process.stdout.write(
      `${r.view} at ${r.at}: ${r.compared} entities compared, ${r.mismatches.length} mismatches\n`,
    );
    if (r.mismatches.length > 0) {
      throw new AsofError(
        'quality',
        `online and batch values differ for ${r.mismatches.length} feature value(s)`,
      );
    }
  });
}
