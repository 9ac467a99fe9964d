// asof publish --view V [--as-of D]: loads a published partition of a view (the latest by
// default) into the online store, so that `asof serve` answers it; idempotent.

import type { Command } from 'commander';
import { loadProject } from '../pipeline/project.js';
import { publishView } from '../pipeline/publish.js';
import { parseIsoDate, systemClock } from '../time/index.js';
import { projectOption } from './common.js';

export function registerPublish(program: Command): void {
  projectOption(
    program
      .command('publish')
      .description('load a published partition of a view into the online store for serving')
      .requiredOption('--view <name>', 'the view')
      .option('--as-of <date>', 'the partition (default: the latest published)'),
  ).action(async (opts: { view: string; asOf?: string; project: string }) => {
    const project = await loadProject(opts.project);
    const asOf = opts.asOf === undefined ? undefined : parseIsoDate(opts.asOf, '--as-of');
    const r = await publishView(project, opts.view, asOf, systemClock);
    process.stdout.write(
      `${r.view} as of ${r.asOfDate}: ${r.rows} entities ${r.changed ? 'published' : 'already published (unchanged)'}\n`,
    );
  });
}
