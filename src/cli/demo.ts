// asof demo: generates a small realistic data set into a folder it names, builds the seed's three
// nightly features (avg_amount_7d, purchases_30d, active_24h) as of one date and shows them.

import path from 'node:path';
import type { Command } from 'commander';
import { generate } from '../gen/index.js';
import { build } from '../pipeline/build.js';
import { loadProject } from '../pipeline/project.js';
import { showPartition } from '../pipeline/show.js';
import { parseIsoDate } from '../time/index.js';
import { stderrLogger } from './common.js';
import { formatResult } from './format.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'generate a small data set, build the nightly features and show them (no server, no network)',
    )
    .option('--dir <dir>', 'where to write the demo project', 'asof-demo')
    .option('--as-of <date>', 'the as_of_date to build', '2025-03-31')
    .option('--users <n>', 'users to generate', (v) => Number.parseInt(v, 10), 500)
    .option('--events <n>', 'transactions to generate', (v) => Number.parseInt(v, 10), 50_000)
    .action(async (opts: { dir: string; asOf: string; users: number; events: number }) => {
      const asOf = parseIsoDate(opts.asOf, '--as-of');
      const out = path.resolve(opts.dir);
      process.stderr.write(
        `generating ${opts.users} users, ${opts.events} transactions over 90 days into ${out} ...\n`,
      );
      const gen = await generate({
        out,
        users: opts.users,
        events: opts.events,
        days: 90,
        endDate: asOf,
        seed: 42,
        format: 'csv',
      });
      for (const f of gen.files)
        process.stderr.write(`  ${f.source}: ${f.rows} rows -> ${path.relative(process.cwd(), f.path)}\n`);
      const project = await loadProject(out);
      const built = await build(project, { asOf, log: stderrLogger });
      process.stdout.write(
        `\nBuilt ${built.length} feature partitions as of ${asOf} (no event at or after each cutoff was read):\n`,
      );
      for (const b of built)
        process.stdout.write(
          `  ${b.view}: ${b.rowsWritten} users -> ${path.relative(process.cwd(), b.dir)}\n`,
        );
      for (const [view, features] of [
        ['user_spend', ['avg_amount_7d', 'purchases_30d']],
        ['user_activity', ['active_24h']],
      ] as const) {
        const shown = await showPartition(project, view, asOf);
        const keep = ['user_id', 'as_of_date', ...features].map((n) =>
          shown.result.columns.findIndex((c) => c.name === n),
        );
        const sample = {
          columns: keep.map((i) => shown.result.columns[i]!),
          rows: shown.result.rows.slice(0, 5).map((r) => keep.map((i) => r[i])),
        };
        process.stdout.write(
          `\n${view} (first 5 of ${shown.result.rows.length}):\n${formatResult(sample, 'table')}`,
        );
      }
      process.stdout.write(
        `\nNext: asof show --project ${opts.dir} --view user_spend --as-of ${asOf} --format csv\n      edit ${opts.dir}/asof.yaml and run asof build --project ${opts.dir} --as-of ${asOf}\n`,
      );
    });
}
